/**
 * The ladder: GET /api/v1/sessions/{id} on the stack the service is built on, one layer at a
 * time, to tell what the stack costs by itself from what our code adds. Each rung is the floor
 * (bench/floor.ts: node:http + pg) plus:
 *
 *   LADDER_RUNG=koa        Koa + @koa/router, the same SQL through a pg Pool
 *   LADDER_RUNG=slonik     … through a Slonik pool with the service's settings (src/db/pool.ts), rows untyped
 *   LADDER_RUNG=zod        … with the service's row interceptor parsing each row with a zod schema
 *
 * Each rung's statement is a named prepared statement, as the floor's and the service's are.
 * No validation, no middleware, no logging or metrics: those are the service's own. `make bench`
 * starts each rung as a separate process: DATABASE_URL=… PORT=… LADDER_RUNG=… node bench/ladder.ts
 */
import Router from '@koa/router';
import Koa from 'koa';
import pg from 'pg';
import { sql } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../src/config.ts';
import { createDatabasePool } from '../src/db/pool.ts';
import { prepared } from '../src/db/prepared.ts';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');
const rung = process.env.LADDER_RUNG ?? 'zod';
if (!['koa', 'slonik', 'zod'].includes(rung)) throw new Error(`LADDER_RUNG must be koa, slonik or zod, not ${rung}`);

const COLUMNS = 'id, user_id, title, status, is_active, metadata, created_at, updated_at, version';
type Row = { id: string; version: number; created_at: string | Date; updated_at: string | Date } & Record<string, unknown>;

const row = z.object({
  id: z.string(),
  user_id: z.string(),
  title: z.string().nullable(),
  status: z.string(),
  is_active: z.boolean(),
  metadata: z.record(z.string(), z.unknown()),
  created_at: z.string(),
  updated_at: z.string(),
  version: z.number(),
});

async function fetcher(): Promise<{ get: (id: string) => Promise<Row | null>; end: () => Promise<void> }> {
  if (rung === 'koa') {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.DB_POOL_SIZE ?? 20) });
    return {
      get: async (id) => (await pool.query<Row>({ name: 'ladder_get', text: `SELECT ${COLUMNS} FROM chat_sessions WHERE id = $1 AND TRUE`, values: [id] })).rows[0] ?? null,
      end: () => pool.end(),
    };
  }
  const pool = await createDatabasePool(databaseUrl!, loadConfig());
  const columns = sql.fragment`id, user_id, title, status, is_active, metadata, created_at, updated_at, version`;
  const query =
    rung === 'zod'
      ? (id: string) => pool.maybeOne(prepared('ladder_get_typed', row)`SELECT ${columns} FROM chat_sessions WHERE id = ${id} AND TRUE`)
      : (id: string) => pool.maybeOne({ ...sql.unsafe`SELECT ${columns} FROM chat_sessions WHERE id = ${id} AND TRUE`, name: 'ladder_get' });
  return { get: async (id) => (await query(id)) as Row | null, end: () => pool.end() };
}

const iso = (value: string | Date) => (typeof value === 'string' ? value : value.toISOString());
const db = await fetcher();
const router = new Router();
router.get('/api/v1/sessions/:id', async (ctx) => {
  const found = await db.get(ctx.params.id!);
  if (!found) {
    ctx.status = 404;
    return;
  }
  const { version, ...session } = found;
  ctx.set('ETag', `"${version}"`);
  ctx.body = { ...session, created_at: iso(found.created_at), updated_at: iso(found.updated_at) };
});
router.get('/api/v1/health', (ctx) => {
  ctx.body = { status: 'ok' };
});

const app = new Koa();
app.use(router.routes());
const server = app.listen(Number(process.env.PORT ?? 8082), '127.0.0.1');
const stop = () => {
  server.close();
  server.closeAllConnections();
  db.end().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
