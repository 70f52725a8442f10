/**
 * The service's own lifecycle as an on-call engineer sees it: start-up before the database,
 * several instances starting at once, graceful shutdown under load, a second signal.
 */
import { request as httpRequest, Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlledPostgres, createControlledPostgres } from './support/controlled-postgres.ts';
import { spawnService } from './support/child-service.ts';
import { databaseUrlFor, withClient } from './support/database.ts';
import { startInstance } from './support/service.ts';

let postgres: ControlledPostgres;

beforeAll(async () => {
  postgres = await createControlledPostgres();
});
afterAll(async () => {
  await postgres?.destroy();
});

async function freshDatabase(): Promise<string> {
  const name = `lifecycle_${Math.random().toString(36).slice(2, 10)}`;
  await withClient(postgres.url, (client) => client.query(`CREATE DATABASE ${name}`));
  return databaseUrlFor(postgres.url, name);
}

async function installSlowInserts(url: string, seconds: number): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`
      CREATE OR REPLACE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.title = 'slow' THEN PERFORM pg_sleep(${seconds}); END IF; RETURN NEW; END $$`);
    await client.query('CREATE TRIGGER slow_insert BEFORE INSERT ON chat_sessions FOR EACH ROW EXECUTE FUNCTION slow_insert()');
  });
}

async function activeSlowInserts(url: string): Promise<number> {
  return withClient(url, async (client) =>
    Number(
      (
        await client.query(
          `SELECT count(*) AS n FROM pg_stat_activity
           WHERE application_name = 'chat-sessions-api' AND state = 'active' AND query LIKE '%INSERT INTO chat_sessions%'`,
        )
      ).rows[0].n,
    ),
  );
}

async function activeMessageInserts(url: string): Promise<number> {
  return withClient(url, async (client) =>
    Number(
      (
        await client.query(
          `SELECT count(*) AS n FROM pg_stat_activity
           -- (the append's text is longer than pg_stat_activity keeps, 1 KB: its start names chat_sessions)
           WHERE application_name = 'chat-sessions-api' AND state = 'active' AND query LIKE '%FROM chat_sessions%'
             AND wait_event = 'PgSleep'`,
        )
      ).rows[0].n,
    ),
  );
}

function post(url: string, body: object, agent?: Agent): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${url}/api/v1/sessions`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers }));
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

/** A JSON request to the API over its own connection (or the agent's); the parsed answer. */
function send(
  url: string,
  path: string,
  body: object,
  headers: Record<string, string> = {},
  agent?: Agent,
): Promise<{ status: number; headers: Record<string, unknown>; body: any }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${url}/api/v1${path}`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: text ? JSON.parse(text) : undefined }));
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

async function installSlowMessageInserts(url: string, seconds: number): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`
      CREATE OR REPLACE FUNCTION slow_message() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.content->0->>'text' LIKE 'slow%' THEN PERFORM pg_sleep(${seconds}); END IF; RETURN NEW; END $$`);
    await client.query('CREATE TRIGGER slow_message BEFORE INSERT ON chat_messages FOR EACH ROW EXECUTE FUNCTION slow_message()');
  });
}

describe('graceful shutdown', () => {
  it('SIGTERM lets every in-flight request finish, closes the pool and exits 0', async () => {
    const databaseUrl = await freshDatabase();
    const service = spawnService({ DATABASE_URL: databaseUrl });
    const url = await service.ready;
    await installSlowInserts(databaseUrl, 1);

    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const inFlight = Array.from({ length: 20 }, () => post(url, { user_id: 'drain', title: 'slow' }, agent));
    // In flight means inside the service: wait until all 20 inserts run, then signal.
    await expect.poll(() => activeSlowInserts(databaseUrl), { timeout: 10_000 }).toBe(20);
    service.process.kill('SIGTERM');
    const responses = await Promise.all(inFlight);
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    // Kept-alive connections are told to close while the server drains.
    for (const response of responses) expect(response.headers.connection).toBe('close');
    expect(await service.exited).toBe(0);
    agent.destroy();

    const lingering = await withClient(postgres.url, async (client) =>
      (await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'chat-sessions-api'`)).rows[0].n,
    );
    expect(lingering).toBe(0);
    const stored = await withClient(databaseUrl, async (client) =>
      (await client.query(`SELECT count(*)::int AS n FROM chat_sessions WHERE user_id = 'drain'`)).rows[0].n,
    );
    expect(stored).toBe(20);
  });

  it('SIGTERM lets every in-flight append finish (single and batches, with and without a key), each stored once', async () => {
    const databaseUrl = await freshDatabase();
    const service = spawnService({ DATABASE_URL: databaseUrl });
    const url = await service.ready;
    // One session per append: appends to one session queue on its row, and would drain one by one.
    const sessions = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => (await send(url, '/sessions', { user_id: 'drain_appends', title: `s${i}` })).body.id as string),
    );
    await installSlowMessageInserts(databaseUrl, 1);

    const agent = new Agent({ keepAlive: true, maxSockets: 12 });
    const inFlight = sessions.map((session, i) => {
      const texts = i % 2 === 0 ? [`slow-${i}`] : [`slow-${i}-0`, `then-${i}-1`, `then-${i}-2`];
      const body = { messages: texts.map((text) => ({ role: 'user', content: [{ type: 'text', text }] })) };
      return send(url, `/sessions/${session}/messages`, body, i % 4 < 2 ? { 'Idempotency-Key': `drain-${i}` } : {}, agent);
    });
    await expect.poll(() => activeMessageInserts(databaseUrl), { timeout: 10_000 }).toBe(12);
    service.process.kill('SIGTERM');
    const responses = await Promise.all(inFlight);
    expect(responses.map((response) => response.status)).toEqual(Array(12).fill(201));
    expect(await service.exited).toBe(0);
    agent.destroy();

    const stored = await withClient(databaseUrl, async (client) =>
      (
        await client.query(
          `SELECT m.session_id, m.seq, m.content->0->>'text' AS text, s.message_count
           FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id ORDER BY m.session_id, m.seq`,
        )
      ).rows as { session_id: string; seq: number; text: string; message_count: number }[],
    );
    sessions.forEach((session, i) => {
      const rows = stored.filter((row) => row.session_id === session);
      const expected = responses[i]!.body.items.map((item: { seq: number; content: { text: string }[] }) => ({
        seq: item.seq,
        text: item.content[0]!.text,
      }));
      expect(rows.map(({ seq, text }) => ({ seq, text }))).toEqual(expected);
      expect(rows.map((row) => row.seq)).toEqual(i % 2 === 0 ? [1] : [1, 2, 3]);
      for (const row of rows) expect(row.message_count).toBe(rows.length);
    });
  });

  it('stops accepting new connections once draining', async () => {
    const databaseUrl = await freshDatabase();
    const service = spawnService({ DATABASE_URL: databaseUrl });
    const url = await service.ready;
    await installSlowInserts(databaseUrl, 0.5);
    const slow = post(url, { user_id: 'drain2', title: 'slow' });
    await expect.poll(() => activeSlowInserts(databaseUrl), { timeout: 10_000 }).toBe(1);
    service.process.kill('SIGTERM');
    await expect.poll(() => service.logs.some((line) => line.includes('shutting down'))).toBe(true);
    await expect(post(url, { user_id: 'drain2' })).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);
    expect((await slow).status).toBe(201);
    expect(await service.exited).toBe(0);
  });

  it('a second signal exits at once, without waiting for in-flight requests', async () => {
    const databaseUrl = await freshDatabase();
    const service = spawnService({ DATABASE_URL: databaseUrl, SHUTDOWN_TIMEOUT_MS: '30000' });
    const url = await service.ready;
    await installSlowInserts(databaseUrl, 5);
    const slow = post(url, { user_id: 'impatient', title: 'slow' }).catch(() => 'cut');
    await expect.poll(() => activeSlowInserts(databaseUrl), { timeout: 10_000 }).toBe(1);
    service.process.kill('SIGTERM');
    await sleep(100);
    const signalled = Date.now();
    service.process.kill('SIGTERM');
    expect(await service.exited).toBe(1);
    expect(Date.now() - signalled).toBeLessThan(1_000);
    await slow;
  });
});

describe('start-up', () => {
  it('waits for a database that starts 3 s after the service, then becomes ready', async () => {
    const late = await createControlledPostgres({ started: false });
    try {
      const service = spawnService({ DATABASE_URL: late.url, DB_STARTUP_TIMEOUT_MS: '30000' });
      await sleep(3_000);
      expect(service.process.exitCode).toBeNull();
      await late.start();
      const url = await service.ready;
      const health = await fetch(`${url}/api/v1/health`);
      expect(health.status).toBe(200);
      expect(service.logs.some((line) => line.includes('waiting for the database'))).toBe(true);
      service.process.kill('SIGTERM');
      expect(await service.exited).toBe(0);
    } finally {
      await late.destroy();
    }
  });

  it('gives up with a clear message when the database never comes', async () => {
    const never = await createControlledPostgres({ started: false });
    try {
      const service = spawnService({ DATABASE_URL: never.url, DB_STARTUP_TIMEOUT_MS: '1000' });
      expect(await service.exited).toBe(1);
      expect(service.logs.join('\n')).toMatch(/did not answer within 1000 ms \(DB_STARTUP_TIMEOUT_MS\)/);
    } finally {
      await never.destroy();
    }
  });

  it('three instances starting at once on a fresh database apply each migration exactly once', async () => {
    const databaseUrl = await freshDatabase();
    const instances = await Promise.all([1, 2, 3].map(() => startInstance(databaseUrl)));
    try {
      for (const instance of instances) expect((await instance.api.get('/health')).status).toBe(200);
      const migrations = await withClient(databaseUrl, async (client) =>
        (await client.query('SELECT name FROM schema_migrations ORDER BY id')).rows.map((row) => row.name as string),
      );
      expect(migrations.length).toBeGreaterThan(0);
      expect(new Set(migrations).size).toBe(migrations.length);
    } finally {
      await Promise.all(instances.map((instance) => instance.stop()));
    }
  });
});
