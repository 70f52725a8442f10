/**
 * Races, not sequences: every guarantee of "Concurrency and retries" (SPEC.md) under concurrent
 * requests split between two server instances on one database.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from './support/client.ts';
import { createTestDatabase, withClient } from './support/database.ts';
import { startInstance, type TestService } from './support/service.ts';

const RACERS = Number(process.env.RACE_SIZE ?? 20);

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let instances: TestService[] = [];
/** Alternates requests between the two instances. */
const api = (i: number): ApiClient => instances[i % instances.length]!.api;

beforeAll(async () => {
  database = await createTestDatabase();
  instances = await Promise.all([startInstance(database.url), startInstance(database.url)]);
});
afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop()));
  await database?.drop();
});

const racers = Array.from({ length: RACERS }, (_, i) => i);

async function createSession(user = 'racer') {
  const response = await api(0).post('/sessions', { user_id: user, title: 'start' });
  return { id: response.body.id as string, etag: response.headers.get('etag')! };
}

function countStatuses(responses: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of responses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

describe(`${RACERS} concurrent requests over two instances`, () => {
  it('conditional PATCHes with the same If-Match: exactly one 200, the rest 412, no lost update', async () => {
    const { id, etag } = await createSession();
    const responses = await Promise.all(
      racers.map((i) => api(i).patch(`/sessions/${id}`, { title: `writer ${i}` }, { headers: { 'If-Match': etag } })),
    );
    expect(countStatuses(responses)).toEqual({ 200: 1, 412: RACERS - 1 });
    const winner = responses.find((response) => response.status === 200)!;
    const final = await api(1).get(`/sessions/${id}`);
    expect(final.body.title).toBe(winner.body.title);
    expect(final.headers.get('etag')).toBe(winner.headers.get('etag'));
  });

  it('conditional metadata merges with the same If-Match: exactly one 200', async () => {
    const { id, etag } = await createSession();
    const responses = await Promise.all(
      racers.map((i) => api(i).patch(`/sessions/${id}`, { metadata: { [`k${i}`]: i } }, { headers: { 'If-Match': etag } })),
    );
    expect(countStatuses(responses)).toEqual({ 200: 1, 412: RACERS - 1 });
    expect(Object.keys((await api(0).get(`/sessions/${id}`)).body.metadata)).toHaveLength(1);
  });

  it('conditional soft DELETEs with the same If-Match: exactly one 204, the rest 412', async () => {
    const { id, etag } = await createSession();
    const responses = await Promise.all(racers.map((i) => api(i).delete(`/sessions/${id}`, { headers: { 'If-Match': etag } })));
    expect(countStatuses(responses)).toEqual({ 204: 1, 412: RACERS - 1 });
  });

  it('conditional hard DELETEs with the same If-Match: exactly one 204, the rest 412 or 404', async () => {
    const { id, etag } = await createSession();
    const responses = await Promise.all(
      racers.map((i) => api(i).delete(`/sessions/${id}?hard=true`, { headers: { 'If-Match': etag } })),
    );
    const counts = countStatuses(responses);
    expect(counts[204]).toBe(1);
    expect((counts[412] ?? 0) + (counts[404] ?? 0)).toBe(RACERS - 1);
  });

  it('metadata merges of different keys without If-Match all land (no lost keys)', async () => {
    const { id } = await createSession();
    const responses = await Promise.all(racers.map((i) => api(i).patch(`/sessions/${id}`, { metadata: { [`k${i}`]: i } })));
    expect(countStatuses(responses)).toEqual({ 200: RACERS });
    const { metadata } = (await api(0).get(`/sessions/${id}`)).body;
    expect(metadata).toEqual(Object.fromEntries(racers.map((i) => [`k${i}`, i])));
  });

  it('patches of different fields without If-Match each apply to the result of the previous', async () => {
    const { id } = await createSession();
    const responses = await Promise.all(
      racers.map((i) => api(i).patch(`/sessions/${id}`, i % 2 ? { title: `t${i}` } : { metadata: { [`k${i}`]: i } })),
    );
    expect(countStatuses(responses)).toEqual({ 200: RACERS });
    const final = await api(0).get(`/sessions/${id}`);
    expect(Object.keys(final.body.metadata)).toHaveLength(Math.ceil(RACERS / 2));
    // Every write bumped the version exactly once.
    expect(final.headers.get('etag')).toBe(`"${RACERS + 1}"`);
  });

  it('identical keyed POSTs create exactly one row and all get the same response', async () => {
    const key = randomUUID();
    const user = `keyed_${key.slice(0, 8)}`;
    const responses = await Promise.all(
      racers.map((i) => api(i).post('/sessions', { user_id: user, title: 'once' }, { headers: { 'Idempotency-Key': key } })),
    );
    expect(countStatuses(responses)).toEqual({ 201: RACERS });
    expect(new Set(responses.map((response) => response.text)).size).toBe(1);
    expect(new Set(responses.map((response) => response.headers.get('etag'))).size).toBe(1);
    expect(new Set(responses.map((response) => response.headers.get('location'))).size).toBe(1);
    expect(responses.filter((response) => response.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    const rows = await withClient(database.url, (client) =>
      client.query('SELECT count(*)::int AS n FROM chat_sessions WHERE user_id = $1', [user]),
    );
    expect(rows.rows[0].n).toBe(1);
  });

  it('a keyed POST racing with its own replay never creates two rows', async () => {
    for (let round = 0; round < 5; round++) {
      const key = randomUUID();
      const user = `replay_${key.slice(0, 8)}`;
      const send = (i: number) => api(i).post('/sessions', { user_id: user }, { headers: { 'Idempotency-Key': key } });
      const responses = await Promise.all([send(0), send(1)]);
      for (const response of responses) expect([201, 409]).toContain(response.status);
      const rows = await withClient(database.url, (client) =>
        client.query('SELECT count(*)::int AS n FROM chat_sessions WHERE user_id = $1', [user]),
      );
      expect(rows.rows[0].n).toBe(1);
    }
  });
});
