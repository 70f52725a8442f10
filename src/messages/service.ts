import { uuidv7 } from '../ids.ts';
import { type CommonQueryMethods, type DatabasePool, sql, UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { ContractRequest, Schemas } from '../contract/types.ts';
import { prepared } from '../db/prepared.ts';
import { type Retry, retrying } from '../db/retry.ts';
import { AppError, ChangedMeanwhile, type FieldError, notFound, validationFailed } from '../errors.ts';
import { etagOf, type Precondition, satisfies } from '../http/etag.ts';
import { isJsonObject, mergePatch } from '../rules.ts';
import { missing, ownedBy, preconditionFailed, touched, versionMatches } from '../sessions/service.ts';
import { CONTENT_MAX_BYTES, contentBytes, textDeltaBytes } from './rules.ts';

type Message = Schemas['Message'];
type MessageCreate = Schemas['MessageCreate'];
type ListQuery = ContractRequest<'listMessages'>['query'];
export type MessageWithEtag = { message: Message; etag: string };

export type MessageLimits = {
  /** Most messages one session may hold (MAX_MESSAGES_PER_SESSION). */
  maxPerSession: number;
  /** Seconds without a write after which an in_progress message is incomplete (IN_PROGRESS_TIMEOUT_S). */
  inProgressTimeoutS: number;
  /** Most content parts a message may have (openapi.yaml, MessageContent's maxItems): streamed deltas add parts too. */
  maxParts: number;
};

const jsonObject = z.custom<Record<string, unknown>>(isJsonObject);

const messageRow = z
  .object({
    id: z.string(),
    session_id: z.string(),
    seq: z.number().int(),
    parent_id: z.string().nullable(),
    // The table's CHECK constraints keep role, status and finish_reason within the contract's enums.
    role: z.string() as z.ZodType<Message['role']>,
    content: z.custom<Message['content']>(Array.isArray),
    status: z.string() as z.ZodType<Message['status']>,
    model: z.string().nullable(),
    finish_reason: z.string().nullable() as z.ZodType<Message['finish_reason']>,
    usage: jsonObject.nullable() as z.ZodType<Message['usage']>,
    metadata: jsonObject,
    created_at: z.string(),
    updated_at: z.string(),
    version: z.number().int(),
  })
  .transform((row) => ({
    message: {
      id: row.id,
      session_id: row.session_id,
      seq: row.seq,
      parent_id: row.parent_id,
      role: row.role,
      content: row.content,
      status: row.status,
      model: row.model,
      finish_reason: row.finish_reason,
      usage: row.usage,
      metadata: row.metadata,
      created_at: row.created_at,
      updated_at: row.updated_at,
    },
    etag: etagOf(row.version),
    version: row.version,
  }));

const appendedRow = messageRow.and(z.object({ session_version: z.number().int() }));
const listedRow = messageRow.and(z.object({ message_count: z.number().int() }));
const branchRow = z
  .object({ sibling_count: z.number().int(), sibling_index: z.number().int() })
  .and(messageRow)
  .transform((row) => ({ message: { ...row.message, sibling_count: row.sibling_count, sibling_index: row.sibling_index } }));
const lockedSessionRow = z.object({
  is_active: z.boolean(),
  status: z.string(),
  message_count: z.number().int(),
  version: z.number().int(),
  last_seq: z.number().int(),
  current_message_id: z.string().nullable(),
  current_run_id: z.number().int().nullable(),
  current_seq: z.number().int().nullable(),
});
const parentRow = z.object({
  id: z.string(),
  run_id: z.number().int(),
  seq: z.number().int(),
  path_runs: z.array(z.number().int()),
  path_seqs: z.array(z.number().int()),
});
const appendedTextRow = z.object({ id: z.string(), seq: z.number(), status: z.string(), updated_at: z.string(), version: z.number() });

/** What a write needs to know of a message and its session before it decides. */
const stateRow = z.object({
  session_is_active: z.boolean(),
  session_status: z.string(),
  message_found: z.boolean(),
  in_progress: z.boolean(),
  status: z.string(),
  version: z.number().int(),
  content_bytes: z.number().int(),
  parts: z.number().int(),
  last_is_text: z.boolean(),
});

const ATTEMPTS = 3;

export function createMessageService(pool: DatabasePool, retry: Retry, limits: MessageLimits) {
  // Reads, and appends (their ids are chosen here: a repeated append finds the rows of the first).
  const repeatable = retrying(pool, retry, true);
  const writes = retrying(pool, retry, false);

  /**
   * An in_progress message with no write for the timeout reads as incomplete (finish_reason
   * error), as of the moment it timed out: a pure function of the row, so every instance and
   * every read agrees, and a later write stores exactly what reads showed (its ETag included).
   */
  const timeout = sql.fragment`make_interval(secs => ${limits.inProgressTimeoutS})`;
  const expired = sql.fragment`(m.status = 'in_progress' AND m.updated_at <= now() - ${timeout})`;
  const effectiveColumns = effectiveColumnsOf(limits.inProgressTimeoutS);
  const storedColumns = sql.fragment`
    m.id, m.session_id, m.seq, m.parent_id, m.role, m.content, m.status, m.model, m.finish_reason,
    m.usage, m.metadata, m.created_at, m.updated_at, m.version`;

  /** Why a message write found nothing to change: the answer a client should get. */
  async function explainMessageMiss(
    db: CommonQueryMethods,
    sessionId: string,
    messageId: string,
    owner: string | undefined,
    precondition: Precondition | undefined,
    needsInProgress: boolean,
    delta?: { toText: number; asPart: number },
  ): Promise<never> {
    const state = await db.maybeOne(sql.type(stateRow)`
      SELECT s.is_active AS session_is_active, s.status AS session_status,
             m.id IS NOT NULL AS message_found,
             coalesce(m.status = 'in_progress' AND NOT ${expired}, false) AS in_progress,
             coalesce(CASE WHEN ${expired} THEN 'incomplete' ELSE m.status END, '') AS status,
             coalesce(m.version + (${expired})::int, 0) AS version,
             coalesce(m.content_bytes, 0) AS content_bytes,
             coalesce(jsonb_array_length(m.content), 0) AS parts,
             coalesce((m.content -> -1 ->> 'type') IS NOT DISTINCT FROM 'text', false) AS last_is_text
      FROM chat_sessions s LEFT JOIN chat_messages m ON m.session_id = s.id AND m.id = ${messageId}
      WHERE s.id = ${sessionId} AND ${ownedBy(owner, sql.fragment`s.user_id`)}`);
    if (!state) return missing(sessionId);
    if (!state.message_found) throw notFound(`No message with id ${messageId} in session ${sessionId}`);
    if (!satisfies(precondition, state.version)) throw preconditionFailed(etagOf(state.version), 'message');
    assertSessionTakesWrites(state.session_is_active, state.session_status);
    if (needsInProgress && !state.in_progress) throw notInProgress(state.status);
    if (delta) {
      const bytes = state.content_bytes + (state.last_is_text ? delta.toText : delta.asPart + (state.parts > 0 ? 1 : 0));
      if (bytes > CONTENT_MAX_BYTES) throw contentTooLarge(bytes);
      if (!state.last_is_text && state.parts >= limits.maxParts) {
        throw new AppError('content_too_large', `A message holds at most ${limits.maxParts} content parts`);
      }
    }
    throw new ChangedMeanwhile();
  }

  /** Runs a write again when it missed for a reason that had gone by the time it was explained. */
  async function untilSettled<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (!(error instanceof ChangedMeanwhile) || attempt === ATTEMPTS) throw error;
      }
    }
  }

  /**
   * The general append, in a transaction whose first statement locks the session row: what the
   * later statements read (the named parents, their runs) is then what the append builds on, and
   * no delete can take a parent away meanwhile (deletes lock the row too). Each message continues
   * its parent's run when the parent is the session's newest message, else starts a run of its
   * own (its id is its seq) whose segments are its parent run's plus "parent run, up to the
   * parent". A parent_id must name a message already in the session: the batch's own ids are
   * chosen by the server, so a later message of a batch follows an earlier one by default only.
   */
  async function appendBranched(
    db: CommonQueryMethods,
    sessionId: string,
    batch: MessageCreate[],
    ids: string[],
    precondition: Precondition | undefined,
    owner: string | undefined,
  ): Promise<{ items: Message[]; sessionEtag: string }> {
    return db.transaction(async (transaction) => {
      const session = await transaction.maybeOne(sql.type(lockedSessionRow)`
        SELECT is_active, status, message_count, version, last_seq, current_message_id, current_run_id, current_seq
        FROM chat_sessions WHERE id = ${sessionId} AND ${ownedBy(owner)} FOR NO KEY UPDATE`);
      if (!session) return missing(sessionId);
      if (!satisfies(precondition, session.version)) throw preconditionFailed(etagOf(session.version));
      assertSessionTakesWrites(session.is_active, session.status);
      assertRoom(session.message_count, batch.length, limits.maxPerSession);

      const named = [...new Set(batch.flatMap((message) => (typeof message.parent_id === 'string' ? [message.parent_id] : [])))];
      const wanted = session.current_message_id === null ? named : [...named, session.current_message_id];
      const found = new Map(
        (
          await transaction.any(sql.type(parentRow)`
            SELECT m.id, m.run_id, m.seq, r.path_runs, r.path_seqs
            FROM chat_messages m JOIN chat_message_runs r ON r.session_id = m.session_id AND r.run_id = m.run_id
            WHERE m.session_id = ${sessionId} AND m.id = ANY(${sql.array(wanted, 'uuid')})`)
        ).map((row) => [row.id, row]),
      );
      const unknown: FieldError[] = batch.flatMap((message, index) =>
        typeof message.parent_id === 'string' && !found.has(message.parent_id)
          ? [{ in: 'body' as const, pointer: `/messages/${index}/parent_id`, message: `parent_id names no message of this session (${message.parent_id})` }]
          : [],
      );
      if (unknown.length) throw validationFailed(unknown);

      type Node = { id: string; run_id: number; seq: number; path_runs: number[]; path_seqs: number[] };
      const runs: { run_id: number; path_runs: number[]; path_seqs: number[] }[] = [];
      const records = [];
      let previous: Node | null = session.current_message_id === null ? null : (found.get(session.current_message_id) ?? null);
      if (session.current_message_id !== null && !previous) throw new ChangedMeanwhile();
      for (const [index, message] of batch.entries()) {
        const seq = session.last_seq + index + 1;
        const parent = message.parent_id === undefined ? previous : message.parent_id === null ? null : found.get(message.parent_id)!;
        const continues = parent !== null && parent.seq === seq - 1;
        const node: Node = continues
          ? { id: ids[index]!, run_id: parent.run_id, seq, path_runs: parent.path_runs, path_seqs: parent.path_seqs }
          : {
              id: ids[index]!,
              run_id: seq,
              seq,
              path_runs: parent ? [...parent.path_runs, parent.run_id] : [],
              path_seqs: parent ? [...parent.path_seqs, parent.seq] : [],
            };
        if (!continues) runs.push({ run_id: seq, path_runs: node.path_runs, path_seqs: node.path_seqs });
        records.push({ ...recordOf(message, index, node.id, parent?.id ?? null), run_id: node.run_id, starts_run: !continues });
        previous = node;
      }
      const n = batch.length;
      const rows = await transaction.any(sql.type(appendedRow)`
        WITH session AS (
          UPDATE chat_sessions s
          SET last_seq = s.last_seq + ${n}, message_count = s.message_count + ${n},
              current_message_id = ${previous!.id}, current_run_id = ${previous!.run_id}, current_seq = ${previous!.seq},
              last_message_at = now(), updated_at = greatest(now(), s.updated_at + interval '1 millisecond'), version = s.version + 1
          WHERE s.id = ${sessionId}
          RETURNING s.last_seq - ${n} AS base_seq, s.version
        ), runs AS (
          INSERT INTO chat_message_runs (session_id, run_id, path_runs, path_seqs)
          SELECT ${sessionId}, r.run_id, ARRAY(SELECT jsonb_array_elements_text(r.path_runs)::int),
                 ARRAY(SELECT jsonb_array_elements_text(r.path_seqs)::int)
          FROM jsonb_to_recordset(${sql.jsonb(runs as never)}) AS r(run_id int, path_runs jsonb, path_seqs jsonb)
        ), m AS (
          INSERT INTO chat_messages AS m
            (session_id, seq, id, parent_id, run_id, starts_run, role, content, content_bytes, status, model, finish_reason, usage, metadata)
          SELECT ${sessionId}, session.base_seq + r.i, r.id, r.parent_id, r.run_id, r.starts_run,
                 r.role, r.content, r.content_bytes, r.status, r.model, r.finish_reason, r.usage, r.metadata
          FROM session, jsonb_to_recordset(${sql.jsonb(records as never)}) AS r(
            i int, id uuid, parent_id uuid, run_id int, starts_run boolean, role text, content jsonb, content_bytes int,
            status text, model text, finish_reason text, usage jsonb, metadata jsonb)
          RETURNING ${storedColumns}
        )
        SELECT m.*, session.version AS session_version FROM m, session ORDER BY m.seq`);
      return { items: rows.map((row) => row.message), sessionEtag: etagOf(rows[0]!.session_version) };
    });
  }

  return {
    /**
     * Appends messages. A batch that names no parent_id, on a session whose current leaf is its
     * newest message (or that has none), is one statement: the session row is locked (appends to
     * one session queue there, others run in parallel), its counters move, and the messages take
     * the next seqs, each following the one before, in the leaf's run. Anything else (an edit, a
     * regeneration, a new root, a leaf switched back to an older message) is `appendBranched`.
     * The ids are chosen here, so a repeated statement (after a lost connection) collides with
     * the rows of an attempt that did commit instead of appending them twice. `db` is a
     * transaction when the append commits with something else (idempotency keys, imports).
     */
    async append(
      sessionId: string,
      batch: MessageCreate[],
      precondition: Precondition | undefined,
      owner: string | undefined,
      db: CommonQueryMethods = repeatable,
    ): Promise<{ items: Message[]; sessionEtag: string }> {
      const ids = batch.map(() => uuidv7());
      const n = batch.length;
      const linear = batch.every((message) => message.parent_id === undefined);
      const appendOnce = async () => {
        try {
          if (linear) {
            const records = batch.map((message, index) => recordOf(message, index, ids[index]!, index === 0 ? null : ids[index - 1]!));
            const rows = await db.any(prepared('append_messages', appendedRow)`
              WITH locked AS (
                SELECT id, current_message_id, current_run_id, last_seq FROM chat_sessions
                WHERE id = ${sessionId} AND ${ownedBy(owner)}
                FOR NO KEY UPDATE
              ), session AS (
                UPDATE chat_sessions s
                SET last_seq = s.last_seq + ${n}, message_count = s.message_count + ${n},
                    current_message_id = ${ids.at(-1)!}, current_run_id = coalesce(locked.current_run_id, s.last_seq + 1),
                    current_seq = s.last_seq + ${n}, last_message_at = now(),
                    updated_at = greatest(now(), s.updated_at + interval '1 millisecond'), version = s.version + 1
                FROM locked
                WHERE s.id = locked.id AND s.is_active AND s.status <> 'closed'
                  AND s.message_count + ${n} <= ${limits.maxPerSession}
                  AND (s.current_message_id IS NULL OR s.current_seq = s.last_seq)
                  AND ${versionMatches(precondition, sql.fragment`s.version`)}
                RETURNING locked.current_message_id AS previous_id, s.current_run_id AS run_id, locked.last_seq AS base_seq, s.version
              ), root AS (
                INSERT INTO chat_message_runs (session_id, run_id, path_runs, path_seqs)
                SELECT ${sessionId}, session.run_id, '{}', '{}' FROM session WHERE session.previous_id IS NULL
              ), m AS (
                INSERT INTO chat_messages AS m
                  (session_id, seq, id, parent_id, run_id, starts_run, role, content, content_bytes, status, model, finish_reason, usage, metadata)
                SELECT ${sessionId}, session.base_seq + r.i, r.id, coalesce(r.parent_id, session.previous_id), session.run_id,
                       r.i = 1 AND session.previous_id IS NULL,
                       r.role, r.content, r.content_bytes, r.status, r.model, r.finish_reason, r.usage, r.metadata
                FROM session, jsonb_to_recordset(${sql.jsonb(records as never)}) AS r(
                  i int, id uuid, parent_id uuid, role text, content jsonb, content_bytes int, status text,
                  model text, finish_reason text, usage jsonb, metadata jsonb)
                RETURNING ${storedColumns}
              )
              SELECT m.*, session.version AS session_version FROM m, session ORDER BY m.seq`);
            if (rows.length) return { items: rows.map((row) => row.message), sessionEtag: etagOf(rows[0]!.session_version) };
          }
          // A branch, or a miss of the linear statement: the general path decides (and explains).
          return await appendBranched(db, sessionId, batch, ids, precondition, owner);
        } catch (error) {
          if (!(error instanceof UniqueIntegrityConstraintViolationError)) throw error;
          return appendedEarlier(db, sessionId, ids, error);
        }
      };
      return untilSettled(appendOnce);
    },

    /**
     * A page of a session's messages in seq order after `afterSeq`, as the API returns them: a
     * range scan of (session_id, seq), for whole-session reads (export, fork) that walk a
     * session page by page inside one transaction (`db`). `seqs` narrows it to those messages.
     */
    async pageInSeqOrder(db: CommonQueryMethods, sessionId: string, afterSeq: number, limit: number, seqs?: number[]): Promise<Message[]> {
      const rows = await db.any(prepared('page_in_seq_order', messageRow)`
        SELECT ${effectiveColumns} FROM chat_messages m
        WHERE m.session_id = ${sessionId} AND m.seq > ${afterSeq}
          ${seqs ? sql.fragment`AND m.seq = ANY(${sql.array(seqs, 'int4')})` : sql.fragment``}
        ORDER BY m.seq LIMIT ${limit}`);
      return rows.map((row) => row.message);
    },

    /**
     * The seqs of the branch from the root to `leafId`, root first (a parent is always appended
     * before its children, so seq order is the branch's order); undefined when `leafId` is no
     * message of the session. A walk up parent_id: O(depth), for whole-branch operations only.
     */
    async branchSeqs(db: CommonQueryMethods, sessionId: string, leafId: string): Promise<number[] | undefined> {
      const found = await db.maybeOneFirst(sql.type(z.object({ seqs: z.array(z.number()).nullable() }))`
        WITH RECURSIVE branch AS (
          SELECT seq, parent_id FROM chat_messages WHERE session_id = ${sessionId} AND id = ${leafId}
          UNION ALL
          SELECT m.seq, m.parent_id FROM chat_messages m JOIN branch b ON m.id = b.parent_id AND m.session_id = ${sessionId}
        )
        SELECT array_agg(seq ORDER BY seq) AS seqs FROM branch`);
      return found ?? undefined;
    },

    async get(sessionId: string, messageId: string, owner?: string): Promise<MessageWithEtag> {
      const found = await repeatable.maybeOne(prepared('get_message', messageRow)`
        SELECT ${effectiveColumns} FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
        WHERE m.id = ${messageId} AND m.session_id = ${sessionId} AND ${ownedBy(owner, sql.fragment`s.user_id`)}`);
      if (!found) return missingMessage(repeatable, sessionId, messageId, owner);
      return found;
    },

    /**
     * One page. `view=all`: a range scan of (session_id, seq) from the window's edge, in the
     * page's order. A branch: its segments (run, seq <= bound) come from one row of
     * chat_message_runs (the leaf run's), clipped to the window and numbered in the page's order;
     * `walk` counts each segment's messages (at most limit + 1) until the page is full, and only
     * the segments it walked are read, each a range scan of (session_id, run_id, seq) of at most
     * limit + 1 rows: a page reads O(limit) rows whatever the number of branches or their depth.
     */
    async list(sessionId: string, query: ListQuery, owner?: string): Promise<Schemas['MessageList']> {
      const limit = query.limit!;
      const order = query.order!;
      const direction = order === 'asc' ? sql.fragment`ASC` : sql.fragment`DESC`;
      const window = windowOf(query);
      const page = (rows: readonly { message: Message }[]): Schemas['MessageList'] => ({
        items: rows.slice(0, limit).map((row) => row.message),
        limit,
        order,
        has_more: rows.length > limit,
      });

      if (query.view === 'all') {
        const conditions = [sql.fragment`m.session_id = ${sessionId}`, ownedBy(owner, sql.fragment`s.user_id`), ...window];
        const rows = await repeatable.any(prepared('list_messages', listedRow)`
          SELECT ${effectiveColumns}, s.message_count
          FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
          WHERE ${sql.join(conditions, sql.fragment` AND `)}
          ORDER BY m.seq ${direction}
          LIMIT ${limit + 1}`);
        // No rows: the window is empty, or there is no such session (a 404).
        const messageCount = rows[0]?.message_count ?? (await sessionMessageCount(repeatable, sessionId, owner));
        const result = page(rows);
        if (query.include_total) {
          result.total = query.role === undefined ? messageCount : await countByRole(repeatable, sessionId, query.role);
        }
        return result;
      }

      const rows = await repeatable.any(branchPageStatement(sessionId, query, owner, limits.inProgressTimeoutS));
      if (!rows.length) await explainEmptyBranch(repeatable, sessionId, query.leaf_id, owner);
      const result = page(rows);
      if (query.include_total) {
        const role = query.role === undefined ? sql.fragment`TRUE` : sql.fragment`m.role = ANY(${sql.array(query.role, 'text')})`;
        result.total = await repeatable.oneFirst(sql.type(z.object({ total: z.number() }))`
          WITH leaf AS (${leafOf(sessionId, query.leaf_id, owner)})
          SELECT coalesce(sum(x.n), 0)::int AS total
          FROM leaf JOIN chat_message_runs r ON r.session_id = ${sessionId} AND r.run_id = leaf.run_id
          CROSS JOIN LATERAL unnest(r.path_runs || leaf.run_id, r.path_seqs || leaf.seq) AS g(run_id, bound)
          CROSS JOIN LATERAL (
            SELECT count(*) AS n FROM chat_messages m
            WHERE m.session_id = ${sessionId} AND m.run_id = g.run_id AND m.seq <= g.bound AND ${role}
          ) AS x`);
      }
      return result;
    },

    /**
     * A merge patch. The message is locked while it is read and rewritten: metadata merges
     * against its current value, and the in_progress rules are checked on what is there now.
     */
    async update(
      sessionId: string,
      messageId: string,
      patch: Schemas['MessagePatch'],
      precondition: Precondition | undefined,
      owner: string | undefined,
      checkResult: (message: Message) => void,
    ): Promise<MessageWithEtag> {
      return writes.transaction(async (transaction) => {
        const current = await transaction.maybeOne(sql.type(messageRow.and(stateRow.pick({ session_is_active: true, session_status: true })))`
          SELECT ${effectiveColumns}, s.is_active AS session_is_active, s.status AS session_status
          FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
          WHERE m.id = ${messageId} AND m.session_id = ${sessionId} AND ${ownedBy(owner, sql.fragment`s.user_id`)}
          FOR NO KEY UPDATE OF m`);
        if (!current) return missingMessage(transaction, sessionId, messageId, owner);
        if (!satisfies(precondition, current.version)) throw preconditionFailed(current.etag, 'message');
        assertSessionTakesWrites(current.session_is_active, current.session_status);
        const { metadata, ...rest } = patch;
        const changesGeneration = Object.keys(rest).length > 0;
        if (changesGeneration && current.message.status !== 'in_progress') throw notInProgress(current.message.status);

        const next: Message = {
          ...current.message,
          ...rest,
          metadata:
            metadata === undefined
              ? current.message.metadata
              : metadata === null
                ? {}
                : (mergePatch(current.message.metadata, metadata) as Record<string, unknown>),
        };
        checkResult(next);
        const bytes = contentBytes(next.content);
        if (bytes > CONTENT_MAX_BYTES) throw contentTooLarge(bytes);
        return transaction.one(sql.type(messageRow)`
          UPDATE chat_messages m
          SET content = ${sql.jsonb(next.content as never)}, content_bytes = ${bytes}, status = ${next.status},
              model = ${next.model}, finish_reason = ${next.finish_reason},
              usage = ${next.usage === null ? null : sql.jsonb(next.usage as never)},
              metadata = ${sql.jsonb(next.metadata as never)},
              updated_at = greatest(now(), ${current.message.updated_at}::timestamptz + interval '1 millisecond'),
              version = ${current.version + 1}
          WHERE m.session_id = ${sessionId} AND m.id = ${messageId}
          RETURNING ${storedColumns}`);
      });
    },

    /**
     * A streamed delta, in one statement: appended to the last part when it is text, else a new
     * text part. Only the message's row is rewritten (its session is read, not written: another
     * client's If-Match on the session is unaffected). The size limit is checked from the stored
     * byte count, without measuring the content again.
     */
    async appendText(
      sessionId: string,
      messageId: string,
      text: string,
      precondition: Precondition | undefined,
      owner: string | undefined,
    ): Promise<{ reply: Schemas['AppendedText']; etag: string }> {
      const { toText, asPart } = textDeltaBytes(text);
      const lastIsText = sql.fragment`(m.content -> -1 ->> 'type') IS NOT DISTINCT FROM 'text'`;
      const added = sql.fragment`CASE WHEN ${lastIsText} THEN ${toText}
        ELSE ${asPart} + (jsonb_array_length(m.content) > 0)::int END`;
      const appendOnce = async () => {
        const updated = await writes.maybeOne(prepared('append_text', appendedTextRow)`
          UPDATE chat_messages m
          SET content = CASE WHEN ${lastIsText}
                THEN jsonb_set(m.content, ARRAY[(jsonb_array_length(m.content) - 1)::text, 'text'],
                               to_jsonb((m.content -> -1 ->> 'text') || ${text}))
                ELSE m.content || jsonb_build_array(jsonb_build_object('type', 'text', 'text', ${text}::text)) END,
              content_bytes = m.content_bytes + ${added},
              updated_at = greatest(now(), m.updated_at + interval '1 millisecond'), version = m.version + 1
          FROM chat_sessions s
          WHERE m.session_id = ${sessionId} AND m.id = ${messageId} AND s.id = m.session_id
            AND ${ownedBy(owner, sql.fragment`s.user_id`)} AND s.is_active AND s.status <> 'closed'
            AND m.status = 'in_progress' AND NOT ${expired}
            AND ${versionMatches(precondition, sql.fragment`m.version`)}
            AND m.content_bytes + ${added} <= ${CONTENT_MAX_BYTES}
            AND (${lastIsText} OR jsonb_array_length(m.content) < ${limits.maxParts})
          RETURNING m.id, m.seq, m.status, m.updated_at, m.version`);
        if (!updated) return explainMessageMiss(repeatable, sessionId, messageId, owner, precondition, true, { toText, asPart });
        const { version, ...reply } = updated;
        return { reply: reply as Schemas['AppendedText'], etag: etagOf(version) };
      };
      return untilSettled(appendOnce);
    },

    /**
     * Deletes a message for good; the messages that followed it now follow its parent. A write to
     * the session: its row is locked first, so the newest message left is read after every
     * append that came before.
     */
    async delete(sessionId: string, messageId: string, precondition: Precondition | undefined, owner: string | undefined): Promise<void> {
      await writes.transaction(async (transaction) => {
        const session = await transaction.maybeOne(sql.type(z.object({ is_active: z.boolean(), status: z.string() }))`
          SELECT is_active, status FROM chat_sessions WHERE id = ${sessionId} AND ${ownedBy(owner)} FOR NO KEY UPDATE`);
        if (!session) return missing(sessionId);
        assertSessionTakesWrites(session.is_active, session.status);
        const deleted = await transaction.maybeOne(sql.type(z.object({ version: z.number() }))`
          WITH d AS (
            DELETE FROM chat_messages m
            WHERE m.session_id = ${sessionId} AND m.id = ${messageId}
              AND ${versionMatches(precondition, sql.fragment`m.version + (${expired})::int`)}
            RETURNING m.id, m.parent_id, m.run_id, m.starts_run
          ), relinked AS (
            -- The run successor of a run's first message becomes its run's first (siblings are
            -- counted among first messages); run ids and bounds stay as they are.
            UPDATE chat_messages c SET parent_id = d.parent_id, starts_run = c.starts_run OR (d.starts_run AND c.run_id = d.run_id)
            FROM d WHERE c.session_id = ${sessionId} AND c.parent_id = d.id
          ), newest AS (
            SELECT created_at FROM chat_messages
            WHERE session_id = ${sessionId} AND id <> ${messageId} ORDER BY seq DESC LIMIT 1
          ), parent AS (
            SELECT p.id, p.run_id, p.seq FROM d JOIN chat_messages p ON p.session_id = ${sessionId} AND p.id = d.parent_id
          )
          UPDATE chat_sessions s
          SET message_count = s.message_count - 1, last_message_at = (SELECT created_at FROM newest),
              current_message_id = CASE WHEN s.current_message_id = d.id THEN d.parent_id ELSE s.current_message_id END,
              current_run_id = CASE WHEN s.current_message_id = d.id THEN (SELECT run_id FROM parent) ELSE s.current_run_id END,
              current_seq = CASE WHEN s.current_message_id = d.id THEN (SELECT seq FROM parent) ELSE s.current_seq END,
              ${touched}
          FROM d WHERE s.id = ${sessionId}
          RETURNING s.version`);
        if (!deleted) await explainMessageMiss(transaction, sessionId, messageId, owner, precondition, false);
      });
    },
  };
}

export type MessageService = ReturnType<typeof createMessageService>;

function assertSessionTakesWrites(isActive: boolean, status: string): void {
  if (!isActive) {
    throw new AppError('session_deleted', 'The session is soft-deleted and takes no message writes; restore it first (is_active: true)');
  }
  if (status === 'closed') {
    throw new AppError('session_closed', 'The session is closed and takes no message writes; its messages stay readable');
  }
}

function notInProgress(status: string): AppError {
  return new AppError(
    'message_not_in_progress',
    `The message is ${status}: only an in_progress message takes content, status, model, finish_reason, usage or streamed text (metadata may still change)`,
  );
}

function contentTooLarge(bytes: number): AppError {
  return new AppError('content_too_large', `A message's content must be at most ${CONTENT_MAX_BYTES} bytes as JSON (it would be ${bytes})`);
}

async function missingMessage(db: CommonQueryMethods, sessionId: string, messageId: string, owner: string | undefined): Promise<never> {
  await sessionMessageCount(db, sessionId, owner);
  throw notFound(`No message with id ${messageId} in session ${sessionId}`);
}

/** The session's message count; a 404 when there is no such session (or it is not the caller's). */
async function sessionMessageCount(db: CommonQueryMethods, sessionId: string, owner: string | undefined): Promise<number> {
  const count = await db.maybeOneFirst(sql.type(z.object({ message_count: z.number() }))`
    SELECT message_count FROM chat_sessions WHERE id = ${sessionId} AND ${ownedBy(owner)}`);
  return count ?? missing(sessionId);
}

/** An earlier attempt of the very same append committed (its connection was lost): answer with what it stored. */
async function appendedEarlier(db: CommonQueryMethods, sessionId: string, ids: string[], collision: Error) {
  const stored = await db.any(sql.type(messageRow)`
    SELECT m.id, m.session_id, m.seq, m.parent_id, m.role, m.content, m.status, m.model, m.finish_reason,
           m.usage, m.metadata, m.created_at, m.updated_at, m.version
    FROM chat_messages m WHERE m.id = ANY(${sql.array(ids, 'uuid')}) ORDER BY m.seq`);
  if (stored.length !== ids.length) throw collision;
  const version = await db.oneFirst(sql.type(z.object({ version: z.number() }))`
    SELECT version FROM chat_sessions WHERE id = ${sessionId}`);
  return { items: stored.map((row) => row.message), sessionEtag: etagOf(version) };
}

/**
 * A page of a branch (see list): its segments (run, seq <= bound) come from one row of
 * chat_message_runs (the leaf run's), clipped to the window and numbered in the page's order;
 * `walk` counts each segment's messages (at most limit + 1) until the page is full, and only the
 * segments it walked are read, each a range scan of (session_id, run_id, seq) of at most
 * limit + 1 rows. Exported for tests/messages-branches.test.ts, which EXPLAINs it.
 */
/** The columns of a message as reads show it (an expired in_progress message reads as incomplete). */
function effectiveColumnsOf(timeoutS: number) {
  const timeout = sql.fragment`make_interval(secs => ${timeoutS})`;
  const expired = sql.fragment`(m.status = 'in_progress' AND m.updated_at <= now() - ${timeout})`;
  return sql.fragment`
    m.id, m.session_id, m.seq, m.parent_id, m.role, m.content,
    CASE WHEN ${expired} THEN 'incomplete' ELSE m.status END AS status,
    m.model,
    CASE WHEN ${expired} THEN 'error' ELSE m.finish_reason END AS finish_reason,
    m.usage, m.metadata, m.created_at,
    CASE WHEN ${expired} THEN m.updated_at + ${timeout} ELSE m.updated_at END AS updated_at,
    m.version + (${expired})::int AS version`;
}

/** A listing's seq window and role filter, on `m`. */
function windowOf(query: ListQuery) {
  return [
    query.after_seq !== undefined && sql.fragment`m.seq > ${query.after_seq}`,
    query.before_seq !== undefined && sql.fragment`m.seq < ${query.before_seq}`,
    query.role !== undefined && sql.fragment`m.role = ANY(${sql.array(query.role, 'text')})`,
  ].filter((condition) => condition !== false);
}

export function branchPageStatement(sessionId: string, query: ListQuery, owner: string | undefined, timeoutS: number) {
  const limit = query.limit!;
  const direction = query.order === 'asc' ? sql.fragment`ASC` : sql.fragment`DESC`;
  const effectiveColumns = effectiveColumnsOf(timeoutS);
  const window = windowOf(query);
  const leaf = leafOf(sessionId, query.leaf_id, owner);
  const clipped = [
    query.after_seq !== undefined && sql.fragment`u.bound > ${query.after_seq}`,
    query.before_seq !== undefined && sql.fragment`u.run_id < ${query.before_seq}`,
  ].filter((condition) => condition !== false);
  const inSegment = sql.join(
    [sql.fragment`m.session_id = ${sessionId}`, sql.fragment`m.run_id = g.run_id`, sql.fragment`m.seq <= g.bound`, ...window],
    sql.fragment` AND `,
  );
  const nil = sql.fragment`'00000000-0000-0000-0000-000000000000'::uuid`;
  return prepared('list_branch', branchRow)`
    WITH RECURSIVE leaf AS (${leaf}), segment AS (
      SELECT u.run_id, u.bound, row_number() OVER (ORDER BY u.run_id ${direction}) AS ord
      FROM leaf JOIN chat_message_runs r ON r.session_id = ${sessionId} AND r.run_id = leaf.run_id
      CROSS JOIN LATERAL unnest(r.path_runs || leaf.run_id, r.path_seqs || leaf.seq) AS u(run_id, bound)
      WHERE ${clipped.length ? sql.join(clipped, sql.fragment` AND `) : sql.fragment`TRUE`}
    ), walk (ord, taken) AS (
      SELECT 0::bigint, 0::bigint
      UNION ALL
      SELECT g.ord, w.taken + (SELECT count(*) FROM (SELECT FROM chat_messages m WHERE ${inSegment} LIMIT ${limit + 1}) AS x)
      FROM walk w JOIN segment g ON g.ord = w.ord + 1
      WHERE w.taken < ${limit + 1}
    ), picked AS (
      SELECT m.* FROM segment g JOIN walk w ON w.ord = g.ord
      CROSS JOIN LATERAL (
        SELECT m.* FROM chat_messages m WHERE ${inSegment} ORDER BY m.seq ${direction} LIMIT ${limit + 1}
      ) AS m
      ORDER BY m.seq ${direction} LIMIT ${limit + 1}
    )
    SELECT ${effectiveColumns},
           CASE WHEN m.starts_run THEN f.n + (nx.seq IS NOT NULL)::int ELSE 1 + f.n END AS sibling_count,
           CASE WHEN m.starts_run THEN f.before + 1 + coalesce(nx.seq < m.seq, false)::int ELSE 1 + f.before END AS sibling_index
    FROM picked m
    -- The siblings that start a run, from the index of those alone...
    CROSS JOIN LATERAL (
      SELECT count(*)::int AS n, (count(*) FILTER (WHERE c.seq < m.seq))::int AS before FROM chat_messages c
      WHERE c.session_id = ${sessionId} AND c.starts_run AND coalesce(c.parent_id, ${nil}) = coalesce(m.parent_id, ${nil})
    ) AS f
    -- ...and the one that continues its parent's run (the message itself when it starts none).
    LEFT JOIN LATERAL (
      SELECT n.seq FROM chat_messages p
      CROSS JOIN LATERAL (
        SELECT n.seq FROM chat_messages n WHERE n.session_id = p.session_id AND n.run_id = p.run_id AND n.seq > p.seq
        ORDER BY n.seq LIMIT 1
      ) AS n
      WHERE m.starts_run AND p.session_id = ${sessionId} AND p.id = m.parent_id
    ) AS nx ON TRUE
    ORDER BY m.seq ${direction}`;
}

/**
 * The leaf a branch listing ends at: the session's current leaf (kept on its row with its run and
 * seq), or the message `leafId` names.
 */
function leafOf(sessionId: string, leafId: string | undefined, owner: string | undefined) {
  if (leafId === undefined) {
    return sql.fragment`SELECT current_run_id AS run_id, current_seq AS seq FROM chat_sessions
      WHERE id = ${sessionId} AND ${ownedBy(owner)}`;
  }
  return sql.fragment`SELECT m.run_id, m.seq FROM chat_sessions s JOIN chat_messages m ON m.session_id = s.id
    WHERE s.id = ${sessionId} AND ${ownedBy(owner, sql.fragment`s.user_id`)} AND m.id = ${leafId}`;
}

/** An empty branch page: no such session (404), a leaf_id naming no message of it (400), or an empty window. */
async function explainEmptyBranch(db: CommonQueryMethods, sessionId: string, leafId: string | undefined, owner: string | undefined) {
  await sessionMessageCount(db, sessionId, owner);
  if (leafId === undefined) return;
  const found = await db.exists(sql.unsafe`SELECT FROM chat_messages WHERE session_id = ${sessionId} AND id = ${leafId}`);
  if (!found) {
    throw validationFailed([{ in: 'query', pointer: '/leaf_id', message: `leaf_id names no message of this session (${leafId})` }]);
  }
}

async function countByRole(db: CommonQueryMethods, sessionId: string, roles: string[]): Promise<number> {
  return db.oneFirst(sql.type(z.object({ total: z.number() }))`
    SELECT count(*)::int AS total FROM chat_messages WHERE session_id = ${sessionId} AND role = ANY(${sql.array(roles, 'text')})`);
}

/** A message as the append statements take it (jsonb_to_recordset): `i` counts from 1. */
function recordOf(message: MessageCreate, index: number, id: string, parentId: string | null) {
  return {
    i: index + 1,
    id,
    parent_id: parentId,
    role: message.role,
    content: message.content,
    content_bytes: contentBytes(message.content),
    status: message.status ?? 'completed',
    model: message.model ?? null,
    finish_reason: message.finish_reason ?? null,
    usage: message.usage ?? null,
    metadata: message.metadata ?? {},
  };
}

function assertRoom(messageCount: number, n: number, maxPerSession: number): void {
  if (messageCount + n > maxPerSession) {
    throw new AppError(
      'session_full',
      `The session holds ${messageCount} messages; a session may hold at most ${maxPerSession} (MAX_MESSAGES_PER_SESSION)`,
    );
  }
}
