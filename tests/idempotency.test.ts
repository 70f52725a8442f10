import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../src/idempotency/store.ts';
import { createTestDatabase, withClient } from './support/database.ts';
import { startInstance, type TestService } from './support/service.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let service: TestService;

beforeAll(async () => {
  database = await createTestDatabase();
  service = await startInstance(database.url, { IDEMPOTENCY_WAIT_MS: '300' });
});
afterAll(async () => {
  await service?.stop();
  await database?.drop();
});

const post = (key: string, body: object, api = service.api) =>
  api.post('/sessions', body, { headers: { 'Idempotency-Key': key } });

async function rowsOf(userId: string): Promise<number> {
  return withClient(database.url, async (client) => {
    const result = await client.query('SELECT count(*)::int AS n FROM chat_sessions WHERE user_id = $1', [userId]);
    return result.rows[0].n as number;
  });
}

describe('Idempotency-Key on POST /sessions', () => {
  it('a replay returns the same status, body, ETag and Location, marked Idempotent-Replayed, and creates nothing', async () => {
    const key = randomUUID();
    const body = { user_id: 'idem_replay', title: 'once' };
    const first = await post(key, body);
    const second = await post(key, body);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await rowsOf('idem_replay')).toBe(1);
  });

  it('the same body with its keys in another order is the same request', async () => {
    const key = randomUUID();
    const first = await post(key, { user_id: 'idem_order', title: 't', metadata: { a: 1, b: 2 } });
    const second = await post(key, { metadata: { b: 2, a: 1 }, title: 't', user_id: 'idem_order' });
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
  });

  it('the same key with a different body is a 422 and creates nothing', async () => {
    const key = randomUUID();
    await post(key, { user_id: 'idem_other', title: 'first' });
    const response = await post(key, { user_id: 'idem_other', title: 'second' });
    expect(response.status).toBe(422);
    expect(response.body.type).toBe('/problems/idempotency-key-reused');
    expect(await rowsOf('idem_other')).toBe(1);
  });

  it('the same key while its first request is still running is a 409 with Retry-After', async () => {
    const key = randomUUID();
    const body = { user_id: 'idem_running' };
    await withClient(database.url, (client) =>
      client.query(
        `INSERT INTO idempotency_keys (key, fingerprint, owner, lease_until) VALUES ($1, $2, $3, now() + interval '1 minute')`,
        [key, fingerprintOf({ createSession: body }), randomUUID()],
      ),
    );
    const response = await post(key, body);
    expect(response.status).toBe(409);
    expect(response.body.type).toBe('/problems/idempotency-in-progress');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await rowsOf('idem_running')).toBe(0);
  });

  it('a claim abandoned by a crashed request is taken over once its lease runs out', async () => {
    const key = randomUUID();
    const body = { user_id: 'idem_abandoned' };
    await withClient(database.url, (client) =>
      client.query(
        `INSERT INTO idempotency_keys (key, fingerprint, owner, lease_until) VALUES ($1, $2, $3, now() - interval '1 second')`,
        [key, fingerprintOf({ createSession: body }), randomUUID()],
      ),
    );
    const response = await post(key, body);
    expect(response.status).toBe(201);
    expect(await rowsOf('idem_abandoned')).toBe(1);
  });

  it('a first request that failed with a 5xx does not poison its key', async () => {
    const key = randomUUID();
    const body = { user_id: 'idem_poison', title: 'explode' };
    await withClient(database.url, async (client) => {
      await client.query(`
        CREATE FUNCTION fail_explode() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.title = 'explode' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`);
      await client.query('CREATE TRIGGER fail_explode BEFORE INSERT ON chat_sessions FOR EACH ROW EXECUTE FUNCTION fail_explode()');
    });
    const failed = await post(key, body);
    expect(failed.status).toBe(500);
    expect(failed.body.detail).not.toContain('injected');
    await withClient(database.url, async (client) => {
      await client.query('DROP TRIGGER fail_explode ON chat_sessions');
      await client.query('DROP FUNCTION fail_explode');
    });
    const retried = await post(key, body);
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(await rowsOf('idem_poison')).toBe(1);
  });

  it('a request rejected as invalid does not use up its key', async () => {
    const key = randomUUID();
    expect((await post(key, { user_id: 'idem_invalid', metadata: { deep: { a: { b: { c: { d: {} } } } } } })).status).toBe(400);
    expect((await post(key, { user_id: 'idem_invalid' })).status).toBe(201);
  });

  it('a key older than 24 hours is new again', async () => {
    const key = randomUUID();
    const first = await post(key, { user_id: 'idem_expired', title: 'yesterday' });
    await withClient(database.url, (client) =>
      client.query(
        `UPDATE idempotency_keys SET created_at = now() - interval '25 hours', expires_at = now() - interval '1 hour' WHERE key = $1`,
        [key],
      ),
    );
    const second = await post(key, { user_id: 'idem_expired', title: 'today' });
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
  });

  it('keys are remembered in PostgreSQL: a replay after a restart still replays', async () => {
    const key = randomUUID();
    const body = { user_id: 'idem_restart' };
    const first = await post(key, body);
    const other = await startInstance(database.url);
    await service.stop();
    try {
      const replay = await post(key, body, other.api);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual(first.body);
    } finally {
      service = await startInstance(database.url, { IDEMPOTENCY_WAIT_MS: '300' });
      await other.stop();
    }
  });

  it.each([
    ['empty', ''],
    ['256 characters long', 'k'.repeat(256)],
    ['holding a space', 'has space'],
    ['holding a control character', 'tab\there'],
  ])('a key %s is a 400 naming the header', async (_case, key) => {
    const response = await post(key, { user_id: 'idem_bad_key' });
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toMatchObject({ in: 'header', pointer: '/idempotency-key' });
  });

  it('a key of 255 visible ASCII characters is accepted', async () => {
    const response = await post('!~'.repeat(127) + 'x', { user_id: 'idem_long_key' });
    expect(response.status).toBe(201);
  });
});

describe('expired keys are purged by the service', () => {
  it('deletes keys past their 24 hours at start-up', async () => {
    const key = randomUUID();
    await post(key, { user_id: 'idem_purge' });
    await withClient(database.url, (client) =>
      client.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE key = $1`, [key]),
    );
    const other = await startInstance(database.url);
    try {
      await expect
        .poll(() =>
          withClient(database.url, async (client) => (await client.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [key])).rowCount),
        )
        .toBe(0);
    } finally {
      await other.stop();
    }
  });
});
