/**
 * An answer raised inside a transaction — a 404, 409 or 412 of a message PATCH or DELETE, a
 * session's metadata merge — rolls the transaction back and keeps its connection (Slonik would
 * destroy it, and each such answer would cost PostgreSQL a new backend and its prepared
 * statements: src/db/retry.ts). A database error still replaces the connection. The services
 * run on a pool of ONE connection, so a replaced connection shows as a new backend pid.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabasePool, sql } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../src/config.ts';
import { APPLICATION_NAME, createDatabasePool } from '../src/db/pool.ts';
import { createRetry, retrying } from '../src/db/retry.ts';
import { AppError, notFound } from '../src/errors.ts';
import { expectProblem, messagesOf, text, user } from './support/messages.ts';
import { createTestDatabase, withClient } from './support/database.ts';
import { useTestService } from './support/service.ts';

/** The backends of our connections to this database: pid and start time. */
async function backends(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ backend: string }>(
      `SELECT pid || ' ' || backend_start AS backend FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = $1 ORDER BY pid`,
      [APPLICATION_NAME],
    );
    return rows.map((row) => row.backend);
  });
}

describe('answers inside a transaction keep the connection (HTTP, a pool of one)', () => {
  const service = useTestService({ DB_POOL_SIZE: '1' });
  const messages = messagesOf(service);

  /** Runs `answer` between two requests that need the connection; its backend must not change. */
  async function expectSameBackend(answer: () => Promise<void>) {
    await messages.session(); // the one connection is open
    const before = await backends(service.databaseUrl);
    expect(before).toHaveLength(1);
    await answer();
    await messages.session(); // and still serves
    expect(await backends(service.databaseUrl)).toEqual(before);
  }

  it('a 404 of a message PATCH (no such message)', async () => {
    const session = await messages.session();
    await expectSameBackend(async () => expectProblem(await messages.patch(session.id, randomUUID(), { metadata: { k: 1 } }), 404, 'not-found'));
  });

  it('a 412 of a message PATCH (a stale If-Match)', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [user('hello')]);
    await expectSameBackend(async () => {
      const response = await messages.patch(session.id, message.id, { metadata: { k: 1 } }, { headers: { 'If-Match': '"999"' } });
      expectProblem(response, 412, 'precondition-failed');
    });
  });

  it('a 409 of a message DELETE (the session is closed)', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [user('hello')]);
    expect((await service.api.patch(`/sessions/${session.id}`, { status: 'closed' })).status).toBe(200);
    await expectSameBackend(async () => expectProblem(await messages.remove(session.id, message.id), 409, 'session-closed'));
  });

  it("a 404 of a session's metadata merge (no such session)", async () => {
    await expectSameBackend(async () => {
      const response = await service.api.patch(`/sessions/${randomUUID()}`, { metadata: { k: 1 } });
      expectProblem(response, 404, 'not-found');
    });
  });

  it('a 201 still follows on the same connection (the transaction was rolled back, not left open)', async () => {
    const session = await messages.session();
    await messages.patch(session.id, randomUUID(), { metadata: { k: 1 } });
    await messages.appendOk(session.id, [user('after'), { role: 'assistant', content: [text('fine')] }]);
  });
});

describe('the transactions of the retrying view (a pool of one)', () => {
  let database: { url: string; drop: () => Promise<void> };
  let pool: DatabasePool;
  const writes = () => retrying(pool, createRetry({ limit: 0 }), false);
  const pid = () => pool.oneFirst(sql.type(z.object({ pid: z.number() }))`SELECT pg_backend_pid() AS pid`);

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = await createDatabasePool(database.url, loadConfig({ DATABASE_URL: database.url, DB_POOL_SIZE: '1' }));
    await pool.query(sql.unsafe`CREATE TABLE kept (id text PRIMARY KEY)`);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  it('an answer raised after a write rolls the write back, and the connection stays', async () => {
    const before = await pid();
    const id = randomBytes(8).toString('hex');
    const attempt = writes().transaction(async (transaction) => {
      await transaction.query(sql.unsafe`INSERT INTO kept (id) VALUES (${id})`);
      throw notFound('answered after a write');
    });
    await expect(attempt).rejects.toBeInstanceOf(AppError);
    expect(await pool.exists(sql.unsafe`SELECT FROM kept WHERE id = ${id}`)).toBe(false);
    expect(await pid()).toBe(before);
  });

  it("a database error still replaces the connection (its state is the database's word, not ours)", async () => {
    const id = randomBytes(8).toString('hex');
    await pool.query(sql.unsafe`INSERT INTO kept (id) VALUES (${id})`);
    const before = await pid();
    const attempt = writes().transaction(async (transaction) => {
      await transaction.query(sql.unsafe`INSERT INTO kept (id) VALUES (${id})`); // a unique violation
    });
    await expect(attempt).rejects.toThrow();
    expect(await pid()).not.toBe(before);
  });

  it('a value returned by the transaction is returned, and committed', async () => {
    const id = randomBytes(8).toString('hex');
    const returned = await writes().transaction(async (transaction) => {
      await transaction.query(sql.unsafe`INSERT INTO kept (id) VALUES (${id})`);
      return id;
    });
    expect(returned).toBe(id);
    expect(await pool.exists(sql.unsafe`SELECT FROM kept WHERE id = ${id}`)).toBe(true);
  });
});
