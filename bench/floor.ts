/**
 * The floor: the least a server can do to answer the benchmark's requests. Bare node:http and a
 * `pg` Pool of the same size as the service's (20), issuing for each request the very SQL
 * statement the service issues (src/sessions/service.ts: same columns, ORDER BY, keyset
 * condition, LIMIT; src/messages/service.ts: the append CTE, the list page, the /append UPDATE,
 * in bench/lib/message-sql.ts), with no validation, no middleware, no logging. Same routes and response
 * shapes as the service, so the same load runs against both. Its cursors are the bare keyset
 * position (created_at, id), unsigned.
 *
 * Not a server to run in production: it trusts every request. `make bench` starts it as a
 * separate process: DATABASE_URL=… PORT=… node bench/floor.ts
 *
 * FLOOR_SCHEMA=original: the same server on the original design's table (bench/lib/original.ts:
 * eight columns, two one-column indexes, no version or message counters), with the same
 * statements minus the columns that table lacks (ETags from updated_at), except an append,
 * which has no counters to read and numbers its messages after the session's newest
 * (originalAppendStatement in bench/lib/message-sql.ts). `make bench` runs it beside the floor.
 *
 * Its statements are named prepared statements, as the service's are (src/db/prepared.ts,
 * DB_PREPARED_STATEMENTS=on by default): PostgreSQL parses and plans each text once per
 * connection. The name is derived from the text (as the service's), so one name never carries
 * two texts. Without that, ours ÷ floor on PostgreSQL's CPU would be flattered by the floor's
 * parsing and planning on every request.
 *
 * Knobs (make bench uses none of them):
 * - FLOOR_PREPARED=off: every statement unnamed (parsed and planned each time), to measure what
 *   preparing saves;
 * - FLOOR_DISCARD_ALL=1 (bench/pg-cpu.ts): do what Slonik's pool does by default on every
 *   release, a `DISCARD ALL` on the connection before it goes back to the pool (which drops
 *   prepared statements too, so the statements are unnamed then);
 * - FLOOR_BURN_US=n (bench/pg-cpu.ts): spin n µs of CPU per request, to be as slow as a heavier server.
 */
import { uuidv7 } from '../src/ids.ts';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
import { floorCursor, parseFloorCursor } from './lib/floor-cursor.ts';
import { appendStatement, appendTextStatement, listStatement, type MessageCreate, originalAppendStatement } from './lib/message-sql.ts';

const BASE = '/api/v1';
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');
const port = Number(process.env.PORT ?? 8081);
const original = process.env.FLOOR_SCHEMA === 'original';
if (!original && (process.env.FLOOR_SCHEMA ?? 'ours') !== 'ours') throw new Error(`FLOOR_SCHEMA must be ours or original, not ${process.env.FLOOR_SCHEMA}`);

const pgPool = new pg.Pool({
  connectionString: databaseUrl,
  max: Number(process.env.DB_POOL_SIZE ?? 20),
  idleTimeoutMillis: 30_000, // as the service's pool
  application_name: 'bench-floor',
});

type Queryable = {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  end(): Promise<void>;
};

const discardAll = process.env.FLOOR_DISCARD_ALL === '1';
const preparedStatements = (process.env.FLOOR_PREPARED ?? 'on') === 'on' && !discardAll;

/** Each text's name, derived from the text: `floor_<first 64 bits of its SHA-256>`. */
const names = new Map<string, string>();
function nameOf(text: string): string {
  let name = names.get(text);
  if (name === undefined) names.set(text, (name = `floor_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`));
  return name;
}

/**
 * The pool's query with each text a named prepared statement; or (FLOOR_PREPARED=off) unnamed; or
 * (FLOOR_DISCARD_ALL=1) connect, query, DISCARD ALL, release: Slonik's default sequence.
 */
const pool: Queryable = preparedStatements
  ? {
      query: <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => pgPool.query<R>({ name: nameOf(text), text, values: values ?? [] }),
      end: () => pgPool.end(),
    }
  : discardAll
    ? {
        async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
          const client = await pgPool.connect();
          try {
            const result = await client.query<R>(text, values);
            await client.query('DISCARD ALL');
            return result;
          } finally {
            client.release();
          }
        },
        end: () => pgPool.end(),
      }
    : (pgPool as Queryable);

// The statements of src/sessions/service.ts, as Slonik sends them (its fragments become $n).
const COLUMNS = original
  ? 'id, user_id, title, status, is_active, metadata, created_at, updated_at'
  : 'id, user_id, title, status, is_active, metadata, message_count, last_message_at, current_message_id, created_at, updated_at, version';
// `AND TRUE`: where the service puts its owner check (AUTH_MODE=none) and its If-Match check.
const GET = `SELECT ${COLUMNS} FROM chat_sessions WHERE id = $1 AND TRUE`;
const LIST_FIRST = `
        SELECT ${COLUMNS} FROM chat_sessions
        WHERE user_id = $1 AND is_active
        ORDER BY "created_at" DESC, id DESC
        LIMIT $2 OFFSET $3`;
const LIST_AFTER = `
        SELECT ${COLUMNS} FROM chat_sessions
        WHERE user_id = $1 AND is_active AND ("created_at", id) < ($2::timestamptz, $3::uuid)
        ORDER BY "created_at" DESC, id DESC
        LIMIT $4 OFFSET $5`;
const TOUCHED = `updated_at = greatest(now(), updated_at + interval '1 millisecond')${original ? '' : ', version = version + 1'}`;

type Row = {
  id: string;
  user_id: string;
  title: string | null;
  status: string;
  is_active: boolean;
  metadata: Record<string, unknown>;
  message_count?: number;
  last_message_at?: Date | null;
  created_at: Date;
  updated_at: Date;
  /** Absent on the original table: its ETag comes from updated_at. */
  version?: number;
};

const etag = (row: Row) => `"${row.version ?? row.updated_at.getTime()}"`;

const session = ({ version: _version, last_message_at, created_at, updated_at, ...rest }: Row) => ({
  ...rest,
  last_message_at: last_message_at?.toISOString() ?? null,
  created_at: created_at.toISOString(),
  updated_at: updated_at.toISOString(),
});

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

async function get(res: ServerResponse, id: string): Promise<void> {
  const { rows } = await pool.query<Row>(GET, [id]);
  const row = rows[0];
  if (!row) return reply(res, 404, { status: 404, title: 'Not Found' });
  reply(res, 200, session(row), { ETag: etag(row) });
}

async function list(res: ServerResponse, query: URLSearchParams): Promise<void> {
  const limit = Number(query.get('limit') ?? 20);
  const cursor = query.get('cursor');
  const userId = query.get('user_id');
  let rows: Row[];
  if (cursor) {
    const [createdAt, id] = parseFloorCursor(cursor);
    ({ rows } = await pool.query<Row>(LIST_AFTER, [userId, new Date(createdAt).toISOString(), id, limit + 1, 0]));
  } else {
    ({ rows } = await pool.query<Row>(LIST_FIRST, [userId, limit + 1, 0]));
  }
  const items = rows.slice(0, limit).map(session);
  const last = rows.length > limit ? rows[limit - 1] : undefined;
  const next_cursor = last ? floorCursor(last.created_at.getTime(), last.id) : null;
  reply(res, 200, { items, limit, next_cursor });
}

async function create(res: ServerResponse, body: Record<string, unknown>): Promise<void> {
  const id = uuidv7(); // as the service: time-ordered ids
  const values: unknown[] = [id, body.user_id, body.title ?? null];
  const status = body.status === undefined ? 'DEFAULT' : `$${values.push(body.status)}`;
  const metadata = body.metadata === undefined ? 'DEFAULT' : `$${values.push(JSON.stringify(body.metadata))}::jsonb`;
  values.push(id);
  const { rows } = await pool.query<Row>(
    `
        WITH inserted AS (
          INSERT INTO chat_sessions (id, user_id, title, status, metadata)
          VALUES (
            $1,
            $2,
            $3,
            ${status},
            ${metadata}
          )
          ON CONFLICT (id) DO NOTHING
          RETURNING ${COLUMNS}
        )
        SELECT * FROM inserted
        UNION ALL
        SELECT ${COLUMNS} FROM chat_sessions WHERE id = $${values.length} AND NOT EXISTS (SELECT FROM inserted)`,
    values,
  );
  const row = rows[0]!;
  reply(res, 201, session(row), { Location: `${BASE}/sessions/${row.id}`, ETag: etag(row) });
}

async function update(res: ServerResponse, id: string, body: Record<string, unknown>): Promise<void> {
  const values: unknown[] = [];
  const assignments: string[] = [];
  for (const field of ['title', 'status', 'is_active'] as const) {
    if (body[field] !== undefined) assignments.push(`${field} = $${values.push(body[field])}`);
  }
  values.push(id);
  const { rows } = await pool.query<Row>(
    `
    UPDATE chat_sessions SET ${[...assignments, TOUCHED].join(', ')}
    WHERE id = $${values.length} AND TRUE AND TRUE
    RETURNING ${COLUMNS}`,
    values,
  );
  const row = rows[0];
  if (!row) return reply(res, 404, { status: 404, title: 'Not Found' });
  reply(res, 200, session(row), { ETag: etag(row) });
}

type MessageRow = Record<string, unknown> & { version: number; created_at: Date; updated_at: Date };

const message = ({ version: _version, message_count: _count, session_version: _sv, session_updated_at: _su, created_at, updated_at, ...rest }: MessageRow) => ({
  ...rest,
  created_at: created_at.toISOString(),
  updated_at: updated_at.toISOString(),
});

async function appendMessages(res: ServerResponse, sessionId: string, body: Record<string, unknown>): Promise<void> {
  if (original) return appendOriginal(res, sessionId, body.messages as MessageCreate[]);
  const { text, values } = appendStatement(sessionId, body.messages as MessageCreate[]);
  const { rows } = await pool.query<MessageRow & { session_version: number }>(text, values);
  if (!rows.length) return reply(res, 404, { status: 404, title: 'Not Found' });
  reply(res, 201, { items: rows.map(message) }, { ETag: `"${rows[0]!.session_version}"` });
}

/** The original table's append: sent again when a concurrent append to the same session took its seq. */
async function appendOriginal(res: ServerResponse, sessionId: string, batch: MessageCreate[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const { text, values } = originalAppendStatement(sessionId, batch);
    try {
      const { rows } = await pool.query<MessageRow & { session_updated_at: Date }>(text, values);
      if (!rows.length) return reply(res, 404, { status: 404, title: 'Not Found' });
      return reply(res, 201, { items: rows.map(message) }, { ETag: `"${rows[0]!.session_updated_at.getTime()}"` });
    } catch (error) {
      if ((error as { code?: string }).code !== '23505' || attempt >= 5) throw error;
    }
  }
}

async function listMessages(res: ServerResponse, sessionId: string, query: URLSearchParams): Promise<void> {
  const limit = Number(query.get('limit') ?? 20);
  const order = query.get('order') === 'asc' ? 'asc' : 'desc';
  const { text, values } = listStatement(sessionId, limit, order, !original);
  const { rows } = await pool.query<MessageRow>(text, values);
  if (!rows.length) return reply(res, 404, { status: 404, title: 'Not Found' });
  reply(res, 200, { items: rows.slice(0, limit).map(message), limit, order, has_more: rows.length > limit });
}

async function appendText(res: ServerResponse, sessionId: string, messageId: string, body: Record<string, unknown>): Promise<void> {
  const { text, values } = appendTextStatement(sessionId, messageId, body.text as string);
  const { rows } = await pool.query<{ id: string; seq: number; status: string; updated_at: Date; version: number }>(text, values);
  const row = rows[0];
  if (!row) return reply(res, 409, { status: 409, title: 'Conflict' });
  reply(res, 200, { id: row.id, seq: row.seq, status: row.status, updated_at: row.updated_at.toISOString() }, { ETag: `"${row.version}"` });
}

/** /sessions/{id}/messages and /sessions/{id}/messages/{message_id}/append. */
async function messageRoute(req: IncomingMessage, res: ServerResponse, rest: string, query: string): Promise<boolean> {
  const [sessionId, collection, messageId, action] = rest.split('/');
  if (collection !== 'messages' || !sessionId) return false;
  if (messageId === undefined) {
    if (req.method === 'GET') await listMessages(res, sessionId, new URLSearchParams(query));
    else if (req.method === 'POST') await appendMessages(res, sessionId, await readJson(req));
    else return false;
    return true;
  }
  if (action === 'append' && req.method === 'POST') {
    await appendText(res, sessionId, messageId, await readJson(req));
    return true;
  }
  return false;
}

const BURN_MS = Number(process.env.FLOOR_BURN_US ?? 0) / 1000;

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (BURN_MS) for (const end = performance.now() + BURN_MS; performance.now() < end; );
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const method = req.method;
  if (path.startsWith(`${BASE}/sessions/`)) {
    const id = path.slice(BASE.length + 10);
    if (id.includes('/')) {
      if (await messageRoute(req, res, id, q === -1 ? '' : url.slice(q + 1))) return;
      return reply(res, 404, { status: 404, title: 'Not Found' });
    }
    if (method === 'GET') return get(res, id);
    if (method === 'PATCH') return update(res, id, await readJson(req));
  } else if (path === `${BASE}/sessions`) {
    if (method === 'GET') return list(res, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)));
    if (method === 'POST') return create(res, await readJson(req));
  } else if (path === `${BASE}/health` && method === 'GET') {
    await pool.query('SELECT 1');
    return reply(res, 200, { status: 'ok' });
  }
  reply(res, 404, { status: 404, title: 'Not Found' });
}

if (import.meta.main) {
  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { status: 500, title: 'Internal Server Error', detail: String(error) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.listen(port, '127.0.0.1');
  const stop = () => {
    server.close();
    server.closeAllConnections();
    pool.end().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
