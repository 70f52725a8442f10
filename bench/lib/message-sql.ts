/**
 * The message statements of src/messages/service.ts exactly as Slonik sends them (its fragments
 * become $n, an absent owner and If-Match become TRUE), for the floor and for the rewrite probe
 * (bench/lib/rewrites.ts). `make bench` checks them against PostgreSQL's own statement log; after
 * a change of the service's SQL, change them here.
 */
import { uuidv7 } from '../../src/ids.ts';
import { branchPageStatement } from '../../src/messages/service.ts';

/** The service's defaults (src/config.ts): MAX_MESSAGES_PER_SESSION, IN_PROGRESS_TIMEOUT_S. */
export const MAX_PER_SESSION = 100_000;
export const IN_PROGRESS_TIMEOUT_S = 600;
const CONTENT_MAX_BYTES = 1024 * 1024;
const CONTENT_MAX_PARTS = 64;

const STORED = `
    m.id, m.session_id, m.seq, m.parent_id, m.role, m.content, m.status, m.model, m.finish_reason,
    m.usage, m.metadata, m.created_at, m.updated_at, m.version`;

export type Statement = { text: string; values: unknown[] };
export type MessageCreate = {
  role: string;
  content: unknown[];
  status?: string;
  model?: string | null;
  finish_reason?: string | null;
  usage?: Record<string, unknown> | null;
  metadata?: Record<string, unknown>;
};

/** The batch as the service sends it to jsonb_to_recordset: time-ordered ids, each message following the one before. */
function recordsOf(batch: MessageCreate[]) {
  const ids = batch.map(() => uuidv7());
  const records = batch.map((message, index) => ({
    i: index + 1,
    id: ids[index],
    parent_id: index === 0 ? null : ids[index - 1],
    role: message.role,
    content: message.content,
    content_bytes: Buffer.byteLength(JSON.stringify(message.content), 'utf8'),
    status: message.status ?? 'completed',
    model: message.model ?? null,
    finish_reason: message.finish_reason ?? null,
    usage: message.usage ?? null,
    metadata: message.metadata ?? {},
  }));
  return { ids, records };
}

/** appendMessages: one statement (lock the session, move its counters, insert the batch). */
export function appendStatement(sessionId: string, batch: MessageCreate[]): Statement {
  const { ids, records } = recordsOf(batch);
  const n = batch.length;
  return {
    text: `
              WITH locked AS (
                SELECT id, current_message_id, current_run_id, last_seq FROM chat_sessions
                WHERE id = $1 AND TRUE
                FOR NO KEY UPDATE
              ), session AS (
                UPDATE chat_sessions s
                SET last_seq = s.last_seq + $2, message_count = s.message_count + $3,
                    current_message_id = $4, current_run_id = coalesce(locked.current_run_id, s.last_seq + 1),
                    current_seq = s.last_seq + $5, last_message_at = now(),
                    updated_at = greatest(now(), s.updated_at + interval '1 millisecond'), version = s.version + 1
                FROM locked
                WHERE s.id = locked.id AND s.is_active AND s.status <> 'closed'
                  AND s.message_count + $6 <= $7
                  AND (s.current_message_id IS NULL OR s.current_seq = s.last_seq)
                  AND TRUE
                RETURNING locked.current_message_id AS previous_id, s.current_run_id AS run_id, locked.last_seq AS base_seq, s.version
              ), root AS (
                INSERT INTO chat_message_runs (session_id, run_id, path_runs, path_seqs)
                SELECT $8, session.run_id, '{}', '{}' FROM session WHERE session.previous_id IS NULL
              ), m AS (
                INSERT INTO chat_messages AS m
                  (session_id, seq, id, parent_id, run_id, starts_run, role, content, content_bytes, status, model, finish_reason, usage, metadata)
                SELECT $9, session.base_seq + r.i, r.id, coalesce(r.parent_id, session.previous_id), session.run_id,
                       r.i = 1 AND session.previous_id IS NULL,
                       r.role, r.content, r.content_bytes, r.status, r.model, r.finish_reason, r.usage, r.metadata
                FROM session, jsonb_to_recordset($10::jsonb) AS r(
                  i int, id uuid, parent_id uuid, role text, content jsonb, content_bytes int, status text,
                  model text, finish_reason text, usage jsonb, metadata jsonb)
                RETURNING ${STORED}
              )
              SELECT m.*, session.version AS session_version FROM m, session ORDER BY m.seq`,
    values: [sessionId, n, n, ids.at(-1), n, n, MAX_PER_SESSION, sessionId, sessionId, JSON.stringify(records)],
  };
}

const expired = (n: number) => `(m.status = 'in_progress' AND m.updated_at <= now() - make_interval(secs => $${n}))`;

/**
 * listMessages with only limit and order (no seq window, no role filter). Ours (`counted`): the
 * page of the current branch, built by the service's own builder (src/messages/service.ts,
 * branchPageStatement). The original table (no runs, no current leaf): one range scan of
 * (session_id, seq), as a linear chat's listing was before branches.
 */
export function listStatement(sessionId: string, limit: number, order: 'asc' | 'desc', counted = true): Statement {
  // Ours: a page of the current branch (the default listing), the service's very statement.
  if (counted) {
    const token = branchPageStatement(sessionId, { limit, order }, undefined, IN_PROGRESS_TIMEOUT_S);
    return { text: token.sql.replace(/\$slonik_(\d+)/g, '$$$1'), values: [...token.values] };
  }
  const t = IN_PROGRESS_TIMEOUT_S;
  return {
    text: `
        SELECT
    m.id, m.session_id, m.seq, m.parent_id, m.role, m.content,
    CASE WHEN ${expired(1)} THEN 'incomplete' ELSE m.status END AS status,
    m.model,
    CASE WHEN ${expired(2)} THEN 'error' ELSE m.finish_reason END AS finish_reason,
    m.usage, m.metadata, m.created_at,
    CASE WHEN ${expired(3)} THEN m.updated_at + make_interval(secs => $4) ELSE m.updated_at END AS updated_at,
    m.version + (${expired(5)})::int AS version${counted ? ', s.message_count' : ''}
        FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
        WHERE m.session_id = $6 AND TRUE
        ORDER BY m.seq ${order === 'asc' ? 'ASC' : 'DESC'}
        LIMIT $7`,
    values: [t, t, t, t, t, sessionId, limit + 1],
  };
}

const LAST_IS_TEXT = `(m.content -> -1 ->> 'type') IS NOT DISTINCT FROM 'text'`;

/** appendMessageText: one UPDATE of the message's row (the session is read, not written). */
export function appendTextStatement(sessionId: string, messageId: string, text: string): Statement {
  const escaped = Buffer.byteLength(JSON.stringify(text), 'utf8');
  const toText = escaped - 2;
  const asPart = escaped + '{"type":"text","text":}'.length;
  const added = (a: number, b: number) => `CASE WHEN ${LAST_IS_TEXT} THEN $${a}
        ELSE $${b} + (jsonb_array_length(m.content) > 0)::int END`;
  return {
    text: `
          UPDATE chat_messages m
          SET content = CASE WHEN ${LAST_IS_TEXT}
                THEN jsonb_set(m.content, ARRAY[(jsonb_array_length(m.content) - 1)::text, 'text'],
                               to_jsonb((m.content -> -1 ->> 'text') || $1))
                ELSE m.content || jsonb_build_array(jsonb_build_object('type', 'text', 'text', $2::text)) END,
              content_bytes = m.content_bytes + ${added(3, 4)},
              updated_at = greatest(now(), m.updated_at + interval '1 millisecond'), version = m.version + 1
          FROM chat_sessions s
          WHERE m.session_id = $5 AND m.id = $6 AND s.id = m.session_id
            AND TRUE AND s.is_active AND s.status <> 'closed'
            AND m.status = 'in_progress' AND NOT ${expired(7)}
            AND TRUE
            AND m.content_bytes + ${added(8, 9)} <= $10
            AND (${LAST_IS_TEXT} OR jsonb_array_length(m.content) < $11)
          RETURNING m.id, m.seq, m.status, m.updated_at, m.version`,
    values: [text, text, toText, asPart, sessionId, messageId, IN_PROGRESS_TIMEOUT_S, toText, asPart, CONTENT_MAX_BYTES, CONTENT_MAX_PARTS],
  };
}

/**
 * An append on the original design's table (bench/lib/original.ts), which keeps no counters:
 * the natural statement moves the session's updated_at (which also locks its row, serialising
 * appends to one session) and numbers the batch after the session's newest message (one probe
 * of chat_messages_pkey). That read uses the statement's snapshot, so two appends to one session
 * at once may pick the same seq: the second then fails on the primary key, and is sent again
 * (bench/floor.ts does, when FLOOR_SCHEMA=original).
 */
export function originalAppendStatement(sessionId: string, batch: MessageCreate[]): Statement {
  const { records } = recordsOf(batch);
  return {
    text: `
            WITH session AS (
              UPDATE chat_sessions SET updated_at = greatest(now(), updated_at + interval '1 millisecond')
              WHERE id = $1 AND is_active AND status <> 'closed'
              RETURNING id, updated_at
            ), newest AS (
              SELECT seq, id FROM chat_messages WHERE session_id = $1 ORDER BY seq DESC LIMIT 1
            ), m AS (
              INSERT INTO chat_messages AS m
                (session_id, seq, id, parent_id, role, content, content_bytes, status, model, finish_reason, usage, metadata)
              SELECT session.id, coalesce(newest.seq, 0) + r.i, r.id, coalesce(r.parent_id, newest.id),
                     r.role, r.content, r.content_bytes, r.status, r.model, r.finish_reason, r.usage, r.metadata
              FROM session LEFT JOIN newest ON TRUE CROSS JOIN jsonb_to_recordset($2::jsonb) AS r(
                i int, id uuid, parent_id uuid, role text, content jsonb, content_bytes int, status text,
                model text, finish_reason text, usage jsonb, metadata jsonb)
              RETURNING ${STORED}
            )
            SELECT m.*, session.updated_at AS session_updated_at FROM m, session ORDER BY m.seq`,
    values: [sessionId, JSON.stringify(records)],
  };
}
