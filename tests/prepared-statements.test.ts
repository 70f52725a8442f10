/**
 * Named prepared statements (DB_PREPARED_STATEMENTS, default on): the hot paths' statements are
 * parsed once per connection and executed from then on; `off` sends them all unnamed; a statement
 * a connection believes prepared but PostgreSQL no longer has (a migration changed its result
 * type; a pooler discarded it: tests/managed-postgres-pooler.test.ts) is retried, never a 500.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabasePool, sql } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../src/config.ts';
import { createDatabasePool } from '../src/db/pool.ts';
import { prepared } from '../src/db/prepared.ts';
import { createRetry } from '../src/db/retry.ts';
import { createMessageService } from '../src/messages/service.ts';
import { createCursorCodec } from '../src/sessions/cursor.ts';
import { createSessionService } from '../src/sessions/service.ts';
import { createTestDatabase, withClient } from './support/database.ts';
import { startTestService, type TestService } from './support/service.ts';

const preparedStatements = z.object({ name: z.string(), executions: z.number() });

/** The services on a pool of ONE connection, so that pg_prepared_statements (per connection) shows theirs. */
async function servicesOnOneConnection(url: string, DB_PREPARED_STATEMENTS: 'on' | 'off') {
  const pool = await createDatabasePool(url, loadConfig({ DATABASE_URL: url, DB_POOL_SIZE: '1', DB_PREPARED_STATEMENTS }));
  const retry = createRetry({ limit: 0 });
  const sessions = createSessionService(pool, retry, createCursorCodec(randomBytes(32)), () => []);
  const messages = createMessageService(pool, retry, { maxPerSession: 1000, inProgressTimeoutS: 600, maxParts: 64 });
  const statements = async () =>
    pool.any(sql.type(preparedStatements)`
      SELECT name, (generic_plans + custom_plans)::int AS executions FROM pg_prepared_statements ORDER BY name`);
  return { pool, sessions, messages, statements };
}

/** Every hot path, each twice. */
async function walkTheHotPaths({ sessions, messages }: Awaited<ReturnType<typeof servicesOnOneConnection>>) {
  for (let i = 0; i < 2; i++) {
    const { session } = await sessions.create({ user_id: 'prepared', title: `hot path ${i}` });
    await sessions.get(session.id, 'prepared');
    await sessions.list({ user_id: 'prepared', sort: '-created_at', limit: 20 }, 'prepared');
    await sessions.update(session.id, { title: `renamed ${i}` }, undefined, 'prepared');
    const { items } = await messages.append(session.id, [{ role: 'assistant', content: [], status: 'in_progress' }], undefined, 'prepared');
    await messages.appendText(session.id, items[0]!.id, 'streamed', undefined, 'prepared');
    await messages.get(session.id, items[0]!.id, 'prepared');
    await messages.list(session.id, { limit: 50, order: 'desc' }, 'prepared');
    await sessions.softDelete(session.id, undefined, 'prepared');
  }
}

describe('named prepared statements on the hot paths', () => {
  let database: { url: string; drop: () => Promise<void> };
  const pools: DatabasePool[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await database?.drop();
  });

  it('each hot statement is prepared once per connection and executed from then on', async () => {
    const services = await servicesOnOneConnection(database.url, 'on');
    pools.push(services.pool);
    await walkTheHotPaths(services);
    const statements = await services.statements();
    const families = statements.map((statement) => statement.name.replace(/_[0-9a-f]{16}$/, ''));
    expect(families.sort()).toEqual([
      'append_messages',
      'append_text',
      'create_session',
      'get_message',
      'get_session',
      'list_branch',
      'list_sessions',
      'soft_delete_session',
      'update_session',
    ]);
    for (const statement of statements) expect(statement, statement.name).toMatchObject({ executions: 2 });
  });

  it('a list whose best plan depends on its values (search term, metadata, time range) is planned per request', async () => {
    const services = await servicesOnOneConnection(database.url, 'on');
    pools.push(services.pool);
    for (const filter of [{ q: 'hot' }, { metadata: { a: '1' } }, { created_after: '2020-01-01T00:00:00Z' }]) {
      await services.sessions.list({ user_id: 'prepared', sort: '-created_at', limit: 20, ...filter }, 'prepared');
    }
    expect(await services.statements()).toEqual([]);
  });

  it('with DB_PREPARED_STATEMENTS=off the same requests prepare nothing', async () => {
    const services = await servicesOnOneConnection(database.url, 'off');
    pools.push(services.pool);
    await walkTheHotPaths(services);
    expect(await services.statements()).toEqual([]);
  });
});

describe('a statement name stands for exactly one text', () => {
  const row = z.object({ one: z.number() });
  const query = (condition: ReturnType<typeof sql.fragment>) => prepared('naming_test', row)`SELECT 1 AS one WHERE ${condition}`;

  it('is the family and the first 64 bits of the SHA-256 of its text: the same in every process', () => {
    const statement = query(sql.fragment`TRUE`);
    expect(statement.name).toBe(`naming_test_${createHash('sha256').update(statement.sql).digest('hex').slice(0, 16)}`);
    expect(query(sql.fragment`TRUE`).name).toBe(statement.name);
  });

  it('texts that differ get different names; past 16 texts a statement runs unnamed', () => {
    const names = Array.from({ length: 20 }, (_, i) => query(sql.fragment`${sql.identifier([`c${i}`])} IS NULL`).name);
    expect(new Set(names.slice(0, 15)).size).toBe(15); // the 16th text of the family is TRUE's, above
    expect(names.slice(15)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
});

describe('a migration that changes a returned column type while the service runs', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ DB_POOL_SIZE: '2' });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('is answered 200: "cached plan must not change result type" is retried on a fresh connection', async () => {
    const created = await service.api.post('/sessions', { user_id: 'migrated', title: 'before the migration' });
    expect(created.status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await service.api.get(`/sessions/${created.body.id}`)).status).toBe(200);

    await withClient(service.databaseUrl, (client) => client.query('ALTER TABLE chat_sessions ALTER COLUMN title TYPE varchar(1000)'));
    for (let i = 0; i < 5; i++) {
      const read = await service.api.get(`/sessions/${created.body.id}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body.title).toBe('before the migration');
    }
    const metrics = await (await fetch(`${service.origin}/metrics`)).text();
    expect(metrics).toMatch(/^db_retries_total\{kind="transient"\} [1-9]/m);
  });
});
