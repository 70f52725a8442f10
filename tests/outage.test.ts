/**
 * Fault injection: the database stops (fast and immediate shutdowns) and comes back under a steady
 * load of creates and updates, then of message appends and streamed text. No acknowledged write
 * may be lost or applied twice, requests during the outage get 503 problems with Retry-After, and
 * the service recovers by itself within 2 s.
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
type AnsweredResponse = { status: number; headers: Headers; body: { type?: string; detail?: string } };

/** What a load test keeps of each answer. */
function outcomeOf(response: AnsweredResponse): Outcome {
  return {
    status: response.status,
    at: Date.now(),
    retryAfter: response.headers.get('retry-after'),
    type: response.body?.type,
    mayHaveApplied: response.body?.detail?.includes('may or may not have been applied'),
  };
}

async function steadyLoad(api: ApiClient, running: () => boolean, tag: string) {
  const created = new Map<string, { title: string; body: unknown }>();
  const lastAcknowledgedTitle = new Map<string, string>();
  const unacknowledgedTitles = new Map<string, string[]>();
  const outcomes: Outcome[] = [];
  const record = (response: AnsweredResponse) => outcomes.push(outcomeOf(response));

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

type AppendLoad = Awaited<ReturnType<typeof appendLoad>>;

/**
 * Appends messages (one or a batch of three, with and without an Idempotency-Key) and streams text
 * into a message in progress, from a few concurrent clients, each in a session of its own, until
 * told to stop. Every message's text and every delta carries a marker unique to it; what the
 * server acknowledged and what it answered "may or may not have been applied" is recorded.
 */
async function appendLoad(api: ApiClient, running: () => boolean, tag: string) {
  const acknowledged = new Map<string, { session: string; seq: number }>(); // marker → where it was stored
  const unknown = new Set<string>(); // markers of appends answered 503 "may or may not have been applied"
  const retryable: { session: string; key: string; body: unknown; markers: string[] }[] = [];
  const deltas = new Map<string, { acknowledged: string[]; unknown: string[] }>(); // streamed message → its deltas
  const sessions: string[] = [];
  const outcomes: Outcome[] = [];
  const record = (response: AnsweredResponse) => {
    outcomes.push(outcomeOf(response));
    return response.status;
  };
  const acknowledge = (session: string, items: { seq: number; content: { text: string }[] }[]) => {
    for (const item of items) acknowledged.set(item.content[0]!.text, { session, seq: item.seq });
  };

  const worker = async (worker: number) => {
    const session = (await api.post('/sessions', { user_id: `append_${tag}`, title: `${tag}-${worker}` })).body.id as string;
    sessions.push(session);
    const streamed = await api.post(`/sessions/${session}/messages`, {
      messages: [{ role: 'assistant', status: 'in_progress', content: [] }],
    });
    const streamUrl = `/sessions/${session}/messages/${streamed.body.items[0].id}/append`;
    const sent = { acknowledged: [] as string[], unknown: [] as string[] };
    deltas.set(streamed.body.items[0].id, sent);
    for (let i = 0; running(); i++) {
      const size = i % 2 === 0 ? 1 : 3;
      const markers = Array.from({ length: size }, (_, j) => `${tag}-${worker}-${i}-${j}`);
      const body = { messages: markers.map((text) => ({ role: 'user', content: [{ type: 'text', text }] })) };
      const key = i % 4 < 2 ? `${tag}-${worker}-${i}` : undefined;
      const appended = await api.post(`/sessions/${session}/messages`, body, key ? { headers: { 'Idempotency-Key': key } } : {});
      if (record(appended) === 201) acknowledge(session, appended.body.items);
      else if (appended.status === 503) {
        for (const marker of markers) unknown.add(marker);
        if (key) retryable.push({ session, key, body, markers });
      }

      const delta = `[${tag}-${worker}-${i}]`;
      const streamedText = await api.post(streamUrl, { text: delta });
      if (record(streamedText) === 200) sent.acknowledged.push(delta);
      else if (streamedText.status === 503) sent.unknown.push(delta);
      await sleep(5);
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));

  // Retried with the same key once the database is back: the append is then stored exactly once.
  for (const { session, key, body, markers } of retryable) {
    const retried = await api.post(`/sessions/${session}/messages`, body, { headers: { 'Idempotency-Key': key } });
    // (409: the key's first attempt still holds it, for its lease)
    expect([201, 409], retried.text).toContain(retried.status);
    if (retried.status === 201) {
      acknowledge(session, retried.body.items);
      for (const marker of markers) unknown.delete(marker);
    }
  }
  return { acknowledged, unknown, deltas, sessions, outcomes };
}

/** From the database: each acknowledged append once, at its seq; nothing twice; counters exact. */
async function verifyAppends(load: AppendLoad) {
  const { messages, counters } = await withClient(postgres.url, async (client) => ({
    messages: (
      await client.query(
        `SELECT session_id, seq, id, content->0->>'text' AS text, content FROM chat_messages WHERE session_id = ANY($1) ORDER BY session_id, seq`,
        [load.sessions],
      )
    ).rows as { session_id: string; seq: number; id: string; text: string | null; content: { text: string }[] }[],
    counters: (await client.query(`SELECT id, message_count, last_seq FROM chat_sessions WHERE id = ANY($1)`, [load.sessions])).rows as {
      id: string;
      message_count: number;
      last_seq: number;
    }[],
  }));
  const streamedIds = new Set(load.deltas.keys());
  const appended = messages.filter((message) => !streamedIds.has(message.id));
  const byMarker = new Map<string, { session_id: string; seq: number }[]>();
  for (const message of appended) byMarker.set(message.text!, [...(byMarker.get(message.text!) ?? []), message]);

  for (const [marker, where] of load.acknowledged) {
    expect(byMarker.get(marker), `acknowledged append ${marker}`).toEqual([expect.objectContaining({ session_id: where.session, seq: where.seq })]);
  }
  for (const [marker, rows] of byMarker) {
    expect(rows.length, `append ${marker} stored twice`).toBe(1);
    expect(load.acknowledged.has(marker) || load.unknown.has(marker), `stored ${marker} was never answered as (maybe) applied`).toBe(true);
  }
  // A batch is all or none.
  const batches = new Map<string, number>();
  for (const marker of byMarker.keys()) batches.set(marker.replace(/-\d+$/, ''), (batches.get(marker.replace(/-\d+$/, '')) ?? 0) + 1);
  for (const [batch, stored] of batches) expect([1, 3], batch).toContain(stored);

  // Per session: seqs 1..n with no gap and no repeat, and the counters say the same.
  for (const session of counters) {
    const seqs = messages.filter((message) => message.session_id === session.id).map((message) => message.seq);
    expect(seqs, `seqs of ${session.id}`).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(session.message_count).toBe(seqs.length);
    expect(session.last_seq).toBe(seqs.length);
  }

  // Streamed text: every acknowledged delta exactly once, in order; an unknown one at most once.
  for (const [id, sent] of load.deltas) {
    const text = (messages.find((message) => message.id === id)?.content ?? []).map((part) => part.text).join('');
    const found = [...text.matchAll(/\[[^\]]+\]/g)].map((match) => match[0]);
    expect(new Set(found).size, `a delta stored twice in ${id}`).toBe(found.length);
    expect(found.filter((delta) => sent.acknowledged.includes(delta))).toEqual(sent.acknowledged);
    for (const delta of found) expect([...sent.acknowledged, ...sent.unknown]).toContain(delta);
  }
  return { appended: appended.length, unknownStored: [...byMarker.keys()].filter((marker) => !load.acknowledged.has(marker)).length };
}

describe.each(['fast', 'immediate'] as const)('a %s shutdown of PostgreSQL under a load of appends', (mode) => {
  it('stores every acknowledged append and delta exactly once, with gap-free seqs, and recovers', async () => {
    const tag = `a${mode}-${randomUUID().slice(0, 6)}`;
    let stopAt = Number.POSITIVE_INFINITY;
    const loading = appendLoad(service.api, () => Date.now() < stopAt, tag);
    await sleep(1_000);
    await postgres.stop(mode);
    const down = Date.now();
    await sleep(1_000);
    await postgres.start();
    const up = Date.now();
    stopAt = up + 1_500;

    const load = await loading;
    const { appended, unknownStored } = await verifyAppends(load);
    const during = load.outcomes.filter((outcome) => outcome.at > down + 200 && outcome.at < up);
    expect(during.length).toBeGreaterThan(0);
    for (const outcome of during) {
      expect(outcome.status).toBe(503);
      expect(Number(outcome.retryAfter)).toBeGreaterThan(0);
    }
    for (const outcome of load.outcomes) expect([200, 201, 503]).toContain(outcome.status);
    expect(load.outcomes.some((outcome) => outcome.at > up && outcome.status < 300), 'the service never recovered').toBe(true);
    const streamed = [...load.deltas.values()].reduce((sum, sent) => sum + sent.acknowledged.length, 0);
    console.info(
      `[${mode}, appends] sent ${load.outcomes.length}, messages acknowledged ${load.acknowledged.size}, stored ${appended} ` +
        `(${unknownStored} of unknown outcome), deltas acknowledged ${streamed}, 503s ${load.outcomes.filter((o) => o.status === 503).length}`,
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

describe('a connection killed mid-append', () => {
  /** Holds the INSERT of a message whose text starts with "slow" half a second, then kills its backend. */
  async function appendKilledMidInsert(session: string, body: unknown, headers: Record<string, string> = {}) {
    const appending = service.api.post(`/sessions/${session}/messages`, body, { headers });
    const terminateRunningInsert = () =>
      withClient(postgres.url, async (client) =>
        (
          await client.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             -- (the append's text is longer than pg_stat_activity keeps, 1 KB: its start names chat_sessions)
             WHERE application_name = 'chat-sessions-api' AND query LIKE '%FROM chat_sessions%' AND state = 'active'
               AND wait_event = 'PgSleep'`,
          )
        ).rowCount,
      );
    await expect.poll(terminateRunningInsert, { timeout: 10_000, interval: 20 }).toBe(1);
    return appending;
  }
  const storedTexts = (session: string) =>
    withClient(postgres.url, async (client) =>
      (await client.query(`SELECT seq, content->0->>'text' AS text FROM chat_messages WHERE session_id = $1 ORDER BY seq`, [session])).rows,
    );
  const batch = (texts: string[]) => ({ messages: texts.map((text) => ({ role: 'user', content: [{ type: 'text', text }] })) });

  beforeAll(async () => {
    await withClient(postgres.url, async (client) => {
      await client.query(`
        CREATE OR REPLACE FUNCTION slow_message() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.content->0->>'text' LIKE 'slow%' THEN PERFORM pg_sleep(0.5); END IF; RETURN NEW; END $$`);
      await client.query('CREATE TRIGGER slow_message BEFORE INSERT ON chat_messages FOR EACH ROW EXECUTE FUNCTION slow_message()');
    });
  });
  afterAll(async () => {
    await withClient(postgres.url, async (client) => {
      await client.query('DROP TRIGGER slow_message ON chat_messages');
      await client.query('DROP FUNCTION slow_message');
    });
  });

  it('a batch whose backend is terminated is answered 201 (repeated safely) or 503, and stored all at once or not at all, once', async () => {
    const session = (await service.api.post('/sessions', { user_id: 'terminated_append' })).body.id;
    const response = await appendKilledMidInsert(session, batch(['slow-1', 'then-2', 'then-3']));
    expect([201, 503]).toContain(response.status);
    const rows = await storedTexts(session);
    if (response.status === 201) {
      expect(rows).toEqual([
        { seq: 1, text: 'slow-1' },
        { seq: 2, text: 'then-2' },
        { seq: 3, text: 'then-3' },
      ]);
      expect(response.body.items.map((item: { seq: number }) => item.seq)).toEqual([1, 2, 3]);
    } else expect(rows.length === 0 || rows.length === 3).toBe(true);
    const counters = await withClient(postgres.url, async (client) =>
      (await client.query('SELECT message_count, last_seq FROM chat_sessions WHERE id = $1', [session])).rows[0],
    );
    expect(counters).toEqual({ message_count: rows.length, last_seq: rows.length });
  });

  it('an append with an Idempotency-Key whose backend is terminated, retried with the key, is stored exactly once', async () => {
    const session = (await service.api.post('/sessions', { user_id: 'terminated_keyed_append' })).body.id;
    const key = `killed-${randomUUID()}`;
    const body = batch(['slow-keyed']);
    const first = await appendKilledMidInsert(session, body, { 'Idempotency-Key': key });
    expect([201, 503]).toContain(first.status);
    const retried = await service.api.post(`/sessions/${session}/messages`, body, { headers: { 'Idempotency-Key': key } });
    expect(retried.status, retried.text).toBe(201);
    const rows = await storedTexts(session);
    expect(rows).toEqual([{ seq: 1, text: 'slow-keyed' }]);
    if (first.status === 201) expect(retried.body.items).toEqual(first.body.items);
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
    // The load's statements are named prepared statements (the default): connections opened after a
    // restart start with none, so none was ever missing ("prepared statement … does not exist" is
    // counted as transient; nothing else here is: no deadlocks, no serializable transactions).
    expect(text).not.toMatch(/^db_errors_total\{kind="transient"\} [1-9]/m);
    expect(text).toMatch(/^http_requests_total\{operation="createSession",status="503"\} \d+/m);
    expect(text).toMatch(/^http_requests_total\{operation="appendMessages",status="503"\} \d+/m);
    expect(text).toMatch(/^db_pool_waiting \d+/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total/m);
  });
});
