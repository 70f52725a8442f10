import { uuidv7 } from '../ids.ts';
import { type CommonQueryMethods, type DatabasePool, sql, UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { ContractRequest, Schemas } from '../contract/types.ts';
import { prepared } from '../db/prepared.ts';
import { type Retry, retrying } from '../db/retry.ts';
import { AppError, ChangedMeanwhile, notFound } from '../errors.ts';
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
  const effectiveColumns = sql.fragment`
    m.id, m.session_id, m.seq, m.parent_id, m.role, m.content,
    CASE WHEN ${expired} THEN 'incomplete' ELSE m.status END AS status,
    m.model,
    CASE WHEN ${expired} THEN 'error' ELSE m.finish_reason END AS finish_reason,
    m.usage, m.metadata, m.created_at,
    CASE WHEN ${expired} THEN m.updated_at + ${timeout} ELSE m.updated_at END AS updated_at,
    m.version + (${expired})::int AS version`;
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

  return {
    /**
     * Appends messages in one statement: the session row is locked (appends to one session queue
     * there, others run in parallel), its counters move, and the messages take the next seqs,
     * each following the one before. The ids are chosen here, so a repeated statement (after a
     * lost connection) collides with the rows of an attempt that did commit instead of appending
     * them twice. `db` is a transaction when the append commits with something else (idempotency keys).
     */
    async append(
      sessionId: string,
      batch: MessageCreate[],
      precondition: Precondition | undefined,
      owner: string | undefined,
      db: CommonQueryMethods = repeatable,
    ): Promise<{ items: Message[]; sessionEtag: string }> {
      const ids = batch.map(() => uuidv7());
      const records = batch.map((message, index) => ({
        i: index + 1,
        id: ids[index],
        ...parentOf(message, index, ids),
        role: message.role,
        content: message.content,
        content_bytes: contentBytes(message.content),
        status: message.status ?? 'completed',
        model: message.model ?? null,
        finish_reason: message.finish_reason ?? null,
        usage: message.usage ?? null,
        metadata: message.metadata ?? {},
      }));
      const n = batch.length;
      const appendOnce = async () => {
        try {
          const rows = await db.any(prepared('append_messages', appendedRow)`
            WITH locked AS (
              SELECT id, current_message_id, last_seq FROM chat_sessions
              WHERE id = ${sessionId} AND ${ownedBy(owner)}
              FOR NO KEY UPDATE
            ), session AS (
              UPDATE chat_sessions s
              SET last_seq = s.last_seq + ${n}, message_count = s.message_count + ${n},
                  current_message_id = ${ids.at(-1)!}, last_message_at = now(),
                  updated_at = greatest(now(), s.updated_at + interval '1 millisecond'), version = s.version + 1
              FROM locked
              WHERE s.id = locked.id AND s.is_active AND s.status <> 'closed'
                AND s.message_count + ${n} <= ${limits.maxPerSession}
                AND ${versionMatches(precondition, sql.fragment`s.version`)}
              RETURNING locked.current_message_id AS previous_id, locked.last_seq AS base_seq, s.version
            ), m AS (
              INSERT INTO chat_messages AS m
                (session_id, seq, id, parent_id, role, content, content_bytes, status, model, finish_reason, usage, metadata)
              SELECT ${sessionId}, session.base_seq + r.i, r.id,
                     CASE WHEN r.explicit_parent THEN r.parent_id ELSE coalesce(r.parent_id, session.previous_id) END,
                     r.role, r.content, r.content_bytes, r.status, r.model, r.finish_reason, r.usage, r.metadata
              FROM session, jsonb_to_recordset(${sql.jsonb(records as never)}) AS r(
                i int, id uuid, parent_id uuid, explicit_parent boolean, role text, content jsonb, content_bytes int, status text,
                model text, finish_reason text, usage jsonb, metadata jsonb)
              RETURNING ${storedColumns}
            )
            SELECT m.*, session.version AS session_version FROM m, session ORDER BY m.seq`);
          if (rows.length) return { items: rows.map((row) => row.message), sessionEtag: etagOf(rows[0]!.session_version) };
        } catch (error) {
          if (!(error instanceof UniqueIntegrityConstraintViolationError)) throw error;
          return appendedEarlier(db, sessionId, ids, error);
        }
        return explainAppendMiss(db, sessionId, n, precondition, owner, limits.maxPerSession);
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

    /** One page: a range scan of (session_id, seq) from the window's edge, in the page's order. */
    async list(sessionId: string, query: ListQuery, owner?: string): Promise<Schemas['MessageList']> {
      const limit = query.limit!;
      const order = query.order!;
      const conditions = [
        sql.fragment`m.session_id = ${sessionId}`,
        ownedBy(owner, sql.fragment`s.user_id`),
        query.after_seq !== undefined && sql.fragment`m.seq > ${query.after_seq}`,
        query.before_seq !== undefined && sql.fragment`m.seq < ${query.before_seq}`,
        query.role !== undefined && sql.fragment`m.role = ANY(${sql.array(query.role, 'text')})`,
      ].filter((condition) => condition !== false);
      const rows = await repeatable.any(prepared('list_messages', listedRow)`
        SELECT ${effectiveColumns}, s.message_count
        FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
        WHERE ${sql.join(conditions, sql.fragment` AND `)}
        ORDER BY m.seq ${order === 'asc' ? sql.fragment`ASC` : sql.fragment`DESC`}
        LIMIT ${limit + 1}`);
      // No rows: the window is empty, or there is no such session (a 404).
      const messageCount = rows[0]?.message_count ?? (await sessionMessageCount(repeatable, sessionId, owner));
      const page: Schemas['MessageList'] = {
        items: rows.slice(0, limit).map((row) => row.message),
        limit,
        order,
        has_more: rows.length > limit,
      };
      if (query.include_total) {
        page.total = query.role === undefined ? messageCount : await countByRole(repeatable, sessionId, query.role);
      }
      return page;
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
            RETURNING m.id, m.parent_id
          ), relinked AS (
            UPDATE chat_messages c SET parent_id = d.parent_id
            FROM d WHERE c.session_id = ${sessionId} AND c.parent_id = d.id
          ), newest AS (
            SELECT created_at FROM chat_messages
            WHERE session_id = ${sessionId} AND id <> ${messageId} ORDER BY seq DESC LIMIT 1
          )
          UPDATE chat_sessions s
          SET message_count = s.message_count - 1, last_message_at = (SELECT created_at FROM newest),
              current_message_id = CASE WHEN s.current_message_id = d.id THEN d.parent_id ELSE s.current_message_id END,
              ${touched}
          FROM d WHERE s.id = ${sessionId}
          RETURNING s.version`);
        if (!deleted) await explainMessageMiss(transaction, sessionId, messageId, owner, precondition, false);
      });
    },
  };
}

export type MessageService = ReturnType<typeof createMessageService>;

/**
 * Which message a new one follows. Each follows the one before it in the batch, the first the
 * session's current leaf; a caller inside the service (import) may name the parent, `null` for a
 * new root. (Private until branching gives the API its own parent_id.)
 */
function parentOf(message: MessageCreate & { parent_id?: string | null }, index: number, ids: string[]) {
  if (message.parent_id !== undefined) return { parent_id: message.parent_id, explicit_parent: true };
  return { parent_id: index === 0 ? null : ids[index - 1]!, explicit_parent: false };
}

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

async function countByRole(db: CommonQueryMethods, sessionId: string, roles: string[]): Promise<number> {
  return db.oneFirst(sql.type(z.object({ total: z.number() }))`
    SELECT count(*)::int AS total FROM chat_messages WHERE session_id = ${sessionId} AND role = ANY(${sql.array(roles, 'text')})`);
}

/** Why an append changed nothing: no such session (404), a stale If-Match (412), or a session that takes no messages (409). */
async function explainAppendMiss(
  db: CommonQueryMethods,
  sessionId: string,
  n: number,
  precondition: Precondition | undefined,
  owner: string | undefined,
  maxPerSession: number,
): Promise<never> {
  const session = await db.maybeOne(sql.type(z.object({ is_active: z.boolean(), status: z.string(), message_count: z.number(), version: z.number() }))`
    SELECT is_active, status, message_count, version FROM chat_sessions WHERE id = ${sessionId} AND ${ownedBy(owner)}`);
  if (!session) return missing(sessionId);
  if (!satisfies(precondition, session.version)) throw preconditionFailed(etagOf(session.version));
  assertSessionTakesWrites(session.is_active, session.status);
  if (session.message_count + n > maxPerSession) {
    throw new AppError(
      'session_full',
      `The session holds ${session.message_count} messages; a session may hold at most ${maxPerSession} (MAX_MESSAGES_PER_SESSION)`,
    );
  }
  throw new ChangedMeanwhile();
}
