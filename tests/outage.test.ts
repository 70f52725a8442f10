/**
 * Fault injection: the database stops (fast and immediate shutdowns) and comes back under a steady
 * load of creates and updates. No acknowledged write may be lost or applied twice, requests during
 * the outage get 503 problems with Retry-After, and the service recovers by itself within 2 s.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from './support/client.ts';
import { type ControlledPostgres, createControlledPostgres } from './support/controlled-postgres.ts';
import { withClient } from './support/database.ts';
import { startInstance, type TestService } from './support/service.ts';

let postgres: ControlledPostgres;
let service: TestService;

beforeAll(async () => {
  postgres = await createControlledPostgres();
  service = await startInstance(postgres.url, { DB_CONNECTION_TIMEOUT_MS: '1000' });
});
afterAll(async () => {
  await service?.stop();
  await postgres?.destroy();
});

type Outcome = { status: number; at: number; retryAfter: string | null; type?: string; mayHaveApplied?: boolean };

/** Creates and renames sessions from a few concurrent clients until told to stop; records every answer. */
async function steadyLoad(api: ApiClient, running: () => boolean, tag: string) {
  const created = new Map<string, { title: string; body: unknown }>();
  const lastAcknowledgedTitle = new Map<string, string>();
  const unacknowledgedTitles = new Map<string, string[]>();
  const outcomes: Outcome[] = [];
  const record = (response: { status: number; headers: Headers; body: { type?: string; detail?: string } }) =>
    outcomes.push({
      status: response.status,
      at: Date.now(),
      retryAfter: response.headers.get('retry-after'),
      type: response.body?.type,
      mayHaveApplied: response.body?.detail?.includes('may or may not have been applied'),
    });

  const worker = async (worker: number) => {
    const mine: string[] = [];
    for (let i = 0; running(); i++) {
      const title = `${tag}-${worker}-${i}`;
      const created_ = await api.post('/sessions', { user_id: `load_${tag}`, title, metadata: { created_as: title } });
      record(created_);
      if (created_.status === 201) {
        created.set(created_.body.id, { title, body: created_.body });
        lastAcknowledgedTitle.set(created_.body.id, title);
        mine.push(created_.body.id);
      }
      const id = mine[i % Math.max(mine.length, 1)];
      if (id) {
        const renamed = `${title}-renamed`;
        const patched = await api.patch(`/sessions/${id}`, { title: renamed });
        record(patched);
        if (patched.status === 200) {
          lastAcknowledgedTitle.set(id, renamed);
          unacknowledgedTitles.delete(id);
        } else unacknowledgedTitles.set(id, [...(unacknowledgedTitles.get(id) ?? []), renamed]);
      }
      await sleep(5);
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return { created, lastAcknowledgedTitle, unacknowledgedTitles, outcomes };
}

async function verifyNothingLost(tag: string, load: Awaited<ReturnType<typeof steadyLoad>>) {
  const rows = await withClient(postgres.url, async (client) =>
    (
      await client.query(`SELECT id, title, metadata->>'created_as' AS created_as FROM chat_sessions WHERE user_id = $1`, [
        `load_${tag}`,
      ])
    ).rows as { id: string; title: string; created_as: string }[],
  );
  const stored = new Map(rows.map((row) => [row.id, row.title]));
  // Every acknowledged create is there, with the last acknowledged title (or a later attempt
  // whose outcome the client was told is unknown).
  for (const [id, title] of load.lastAcknowledgedTitle) {
    expect(stored.has(id), `acknowledged session ${id} is missing`).toBe(true);
    expect([title, ...(load.unacknowledgedTitles.get(id) ?? [])]).toContain(stored.get(id));
  }
  // No create was applied twice: each create's unique marker names at most one row.
  const markers = rows.map((row) => row.created_as);
  expect(new Set(markers).size).toBe(markers.length);
  return rows.length;
}

describe.each(['fast', 'immediate'] as const)('a %s shutdown of PostgreSQL under load', (mode) => {
  it('loses no acknowledged write, answers 503 with Retry-After meanwhile, and recovers within 2 s', async () => {
    const tag = `${mode}-${randomUUID().slice(0, 8)}`;
    let stopAt = Number.POSITIVE_INFINITY; // set once the database is back: the load outlives it by 3 s
    const loading = steadyLoad(service.api, () => Date.now() < stopAt, tag);

    await sleep(1_500);
    await postgres.stop(mode);
    const down = Date.now();
    await sleep(2_000);
    const health = await service.api.get('/health');
    expect(health.status).toBe(503);
    expect((await service.api.get('/health/live')).status).toBe(200);
    await postgres.start();
    const up = Date.now();
    stopAt = up + 3_000;

    const load = await loading;
    const stored = await verifyNothingLost(tag, load);
    // Rows nobody was told about come only from creates answered "may or may not have been applied".
    const unknownOutcomes = load.outcomes.filter((outcome) => outcome.status === 503 && outcome.mayHaveApplied).length;
    expect(stored - load.created.size).toBeLessThanOrEqual(unknownOutcomes);

    const during = load.outcomes.filter((outcome) => outcome.at > down + 200 && outcome.at < up);
    expect(during.length).toBeGreaterThan(0);
    for (const outcome of during) {
      expect(outcome.status).toBe(503);
      expect(outcome.type).toBe('/problems/service-unavailable');
      expect(Number(outcome.retryAfter)).toBeGreaterThan(0);
    }
    const statuses = new Set(load.outcomes.map((outcome) => outcome.status));
    for (const status of statuses) expect([200, 201, 503]).toContain(status);

    const firstSuccessAfterUp = load.outcomes.find((outcome) => outcome.at > up && outcome.status < 300);
    expect(firstSuccessAfterUp, 'the service never recovered').toBeDefined();
    const recoveryMs = firstSuccessAfterUp!.at - up;
    expect(recoveryMs).toBeLessThan(2_000);
    console.info(
      `[${mode}] sent ${load.outcomes.length}, acknowledged ${load.outcomes.filter((o) => o.status < 300).length}, ` +
        `creates acknowledged ${load.created.size}, rows stored ${stored}, 503s ${load.outcomes.filter((o) => o.status === 503).length}, ` +
        `recovered ${recoveryMs} ms after the database`,
    );
  });
});

describe('a connection killed mid-query', () => {
  it('a create whose backend is terminated is answered 201 (retried safely) or 503, and stored at most once', async () => {
    await withClient(postgres.url, async (client) => {
      await client.query(`
        CREATE OR REPLACE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.title = 'slow-create' THEN PERFORM pg_sleep(0.5); END IF; RETURN NEW; END $$`);
      await client.query('CREATE TRIGGER slow_insert BEFORE INSERT ON chat_sessions FOR EACH ROW EXECUTE FUNCTION slow_insert()');
    });
    try {
      const creating = service.api.post('/sessions', { user_id: 'terminated_user', title: 'slow-create' });
      // Kill the backend while the INSERT runs (the trigger holds it half a second).
      const terminateRunningInsert = () =>
        withClient(postgres.url, async (client) =>
          (
            await client.query(
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE application_name = 'chat-sessions-api' AND query LIKE '%INSERT INTO chat_sessions%' AND state = 'active'`,
            )
          ).rowCount,
        );
      await expect.poll(terminateRunningInsert, { timeout: 10_000, interval: 20 }).toBe(1);
      const response = await creating;
      expect([201, 503]).toContain(response.status);
      const rows = await withClient(postgres.url, async (client) =>
        (await client.query(`SELECT id FROM chat_sessions WHERE user_id = 'terminated_user'`)).rows,
      );
      if (response.status === 201) expect(rows).toEqual([{ id: response.body.id }]);
      else expect(rows.length).toBeLessThanOrEqual(1);
    } finally {
      await withClient(postgres.url, async (client) => {
        await client.query('DROP TRIGGER slow_insert ON chat_sessions');
        await client.query('DROP FUNCTION slow_insert');
      });
    }
  });
});

describe('metrics after the faults', () => {
  it('count database errors by kind and the retries made', async () => {
    const response = await fetch(`${service.origin}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const sum = (metric: string) =>
      [...text.matchAll(new RegExp(`^${metric}\\{[^}]*\\} (\\d+)`, 'gm'))].reduce((total, match) => total + Number(match[1]), 0);
    expect(sum('db_errors_total')).toBeGreaterThan(0);
    expect(sum('db_retries_total')).toBeGreaterThan(0);
    expect(text).toMatch(/^db_errors_total\{kind="terminated"\} \d+/m);
    expect(text).toMatch(/^http_requests_total\{operation="createSession",status="503"\} \d+/m);
    expect(text).toMatch(/^db_pool_waiting \d+/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total/m);
  });
});
