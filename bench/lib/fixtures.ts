/**
 * What the load is made of (ids, users, deep cursors), and the check that the floor really
 * issues the service's SQL.
 */
import pg from 'pg';
import { floorCursor } from './floor-cursor.ts';
import { type Fixtures, type MessageFixtures, type ScenarioName } from './load.ts';
import { appendStatement, originalAppendStatement } from './message-sql.ts';
import type { Cluster } from './postgres.ts';
import { withClient } from './postgres.ts';
import { LIST_BRANCHED, LIST_LONG, LIST_SHORT, POWER_USERS, userId } from './seed.ts';
import type { Server } from './servers.ts';

export const DEEP_PAGES = 50;

export async function loadFixtures(url: string, users: number): Promise<Pick<Fixtures, 'ids' | 'users'>> {
  const ids = await withClient(url, async (client) => {
    const { rows } = await client.query<{ id: string }>('SELECT id FROM chat_sessions WHERE is_active ORDER BY random() LIMIT 20000');
    return rows.map((row) => row.id);
  });
  return { ids, users: Array.from({ length: users }, (_, index) => userId(index)) };
}

/** Sessions stream-delta streams into, and fresh in_progress messages per run (more than a fast run takes). */
const STREAM_SESSIONS = 40;
const STREAMS_PER_RUN = 4_000;

/**
 * The seeded message sessions, and pools of fresh in_progress messages for stream-delta, made
 * again before each of its runs (outside the measured window) in the database of the server
 * about to run: every delta streams into a message that has had fewer than 20 before it. With
 * `originalUrl` (the original table's copy, bench/lib/original.ts), servers for which
 * `isOriginal` holds get theirs there, made with that table's own append statement.
 */
export async function loadMessageFixtures(
  url: string,
  log: (line: string) => void,
  original?: { url: string; isOriginal: (server: string) => boolean },
): Promise<{ messages: MessageFixtures; refill: (server: string) => Promise<void>; close: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const originalClient = original ? new pg.Client({ connectionString: original.url }) : undefined;
  await originalClient?.connect();
  const tagged = async (tag: string) =>
    (await client.query<{ id: string }>(`SELECT id FROM chat_sessions WHERE metadata->>'bench' = $1`, [tag])).rows[0]?.id;
  const long = await tagged(LIST_LONG);
  const short = await tagged(LIST_SHORT);
  const branched = await tagged(LIST_BRANCHED);
  if (!long || !short || !branched) throw new Error('the list sessions are missing: were the messages seeded?');
  const { rows } = await client.query<{ id: string }>(
    `SELECT id FROM chat_sessions WHERE message_count > 0 AND NOT metadata ? 'bench' ORDER BY random()`,
  );
  const appendSessions = rows.map((row) => row.id);
  const streamSessions = appendSessions.slice(0, STREAM_SESSIONS);
  type Pool = { streams: Array<{ session: string; message: string }>; next: number; reused: number };
  const pools = { ours: { streams: [], next: 0, reused: 0 } as Pool, original: { streams: [], next: 0, reused: 0 } as Pool };
  const poolOf = (server: string) => (original?.isOriginal(server) ? pools.original : pools.ours);
  const messages: MessageFixtures = {
    appendSessions,
    long,
    short,
    branched,
    nextStream(server) {
      const pool = poolOf(server);
      if (pool.next >= pool.streams.length) pool.reused++;
      return pool.streams[pool.next++ % pool.streams.length]!;
    },
  };
  const perSession = Math.ceil(STREAMS_PER_RUN / STREAM_SESSIONS);
  const refill = async (server: string) => {
    const pool = poolOf(server);
    const onOriginal = pool === pools.original;
    if (pool.reused) log(`warning: stream-delta ran out of fresh messages (${pool.reused} streams reused one): raise STREAMS_PER_RUN`);
    pool.streams = [];
    pool.next = 0;
    pool.reused = 0;
    for (const session of streamSessions) {
      const batch = Array.from({ length: perSession }, () => ({ role: 'assistant', content: [], status: 'in_progress', model: 'gpt-4o' }));
      const { text, values } = (onOriginal ? originalAppendStatement : appendStatement)(session, batch);
      const { rows: created } = await (onOriginal ? originalClient! : client).query<{ id: string }>(text, values);
      for (const row of created) pool.streams.push({ session, message: row.id });
    }
    // Interleave the sessions, so that concurrent connections stream into different sessions' pages.
    pool.streams.sort(() => Math.random() - 0.5);
  };
  return { messages, refill, close: async () => { await client.end(); await originalClient?.end(); } };
}

type Page = { items: Array<{ id: string; created_at: string }>; next_cursor: string | null };

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * Walks our API 50 pages deep for each heavy user; the query of page 51 is ours, and the same
 * keyset position (the last row of page 50) makes the floor's. Both must return the same rows.
 */
export async function deepQueries(ours: Server, floor?: Server): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = { [ours.name]: [], ...(floor ? { [floor.name]: [] } : {}) };
  for (let index = 0; index < POWER_USERS; index++) {
    const user = userId(index);
    let page = await getJson<Page>(`${ours.url}/api/v1/sessions?user_id=${user}&limit=20`);
    for (let n = 2; n <= DEEP_PAGES; n++) {
      if (!page.next_cursor) throw new Error(`${user} has fewer than ${DEEP_PAGES + 1} pages`);
      page = await getJson<Page>(`${ours.url}/api/v1/sessions?user_id=${user}&limit=20&cursor=${page.next_cursor}`);
    }
    const last = page.items.at(-1)!;
    const oursQuery = `user_id=${user}&limit=20&cursor=${page.next_cursor}`;
    result[ours.name]!.push(oursQuery);
    if (!floor) continue;
    const floorQuery = `user_id=${user}&limit=20&cursor=${floorCursor(Date.parse(last.created_at), last.id)}`;
    const [a, b] = await Promise.all([
      getJson<Page>(`${ours.url}/api/v1/sessions?${oursQuery}`),
      getJson<Page>(`${floor.url}/api/v1/sessions?${floorQuery}`),
    ]);
    if (a.items.length !== 20 || a.items.map((item) => item.id).join() !== b.items.map((item) => item.id).join()) {
      throw new Error(`page ${DEEP_PAGES + 1} of ${user} differs between ${ours.name} and ${floor.name}`);
    }
    result[floor.name]!.push(floorQuery);
  }
  return result;
}

export type Parity = {
  checked: boolean;
  scenarios: Array<{ scenario: ScenarioName; same: boolean; ours: string[]; floor: string[] }>;
  /** Statements ours issues per request beyond the floor's (e.g. Slonik's DISCARD ALL on release). */
  extra_statements: string[];
};

/** One request of each kind to each server, with PostgreSQL logging every statement. */
export async function checkSqlParity(cluster: Cluster, ours: Server, floor: Server, fixtures: Fixtures): Promise<Parity> {
  const id = fixtures.ids[0]!;
  const kinds: Array<{ scenario: ScenarioName; send: (server: Server) => Promise<unknown> }> = [
    { scenario: 'get', send: (server) => fetch(`${server.url}/api/v1/sessions/${id}`).then((r) => r.text()) },
    { scenario: 'list', send: (server) => fetch(`${server.url}/api/v1/sessions?user_id=${fixtures.users[1]}&limit=20`).then((r) => r.text()) },
    {
      scenario: 'list-deep',
      send: (server) => fetch(`${server.url}/api/v1/sessions?${fixtures.deepQueries[server.name]![0]}`).then((r) => r.text()),
    },
    {
      scenario: 'create',
      send: (server) =>
        fetch(`${server.url}/api/v1/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: 'user_0999', title: 'SQL parity check', metadata: { source: 'bench' } }),
        }).then((r) => r.text()),
    },
    {
      scenario: 'patch',
      send: (server) =>
        fetch(`${server.url}/api/v1/sessions/${id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/merge-patch+json' },
          body: JSON.stringify({ title: 'SQL parity check (edited)', status: 'active' }),
        }).then((r) => r.text()),
    },
  ];
  const messages = fixtures.messages;
  if (messages) {
    const post = (url: string, body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.text());
    kinds.push(
      {
        scenario: 'append-1k',
        send: (server) =>
          post(`${server.url}/api/v1/sessions/${messages.appendSessions[0]}/messages`, { messages: [{ role: 'user', content: [{ type: 'text', text: 'SQL parity check' }] }] }),
      },
      { scenario: 'list-latest-10k', send: (server) => fetch(`${server.url}/api/v1/sessions/${messages.long}/messages?limit=50`).then((r) => r.text()) },
      { scenario: 'list-branch-200', send: (server) => fetch(`${server.url}/api/v1/sessions/${messages.branched}/messages?limit=50`).then((r) => r.text()) },
      {
        scenario: 'stream-delta',
        send: (server) => {
          const { session, message } = messages.nextStream(server.name);
          return post(`${server.url}/api/v1/sessions/${session}/messages/${message}/append`, { text: 'SQL parity check' });
        },
      },
    );
  }
  const parity: Parity = { checked: true, scenarios: [], extra_statements: [] };
  const extra = new Set<string>();
  for (const kind of kinds) {
    const seen: Record<string, string[]> = {};
    for (const server of [ours, floor]) {
      const statements = await cluster.captureStatements(async () => {
        await kind.send(server);
      });
      if (!statements) return { checked: false, scenarios: [], extra_statements: [] };
      seen[server.name] = statements;
    }
    const oursStatements = seen[ours.name]!;
    const floorStatements = seen[floor.name]!;
    const essential = oursStatements.filter((statement) => floorStatements.includes(statement) || !isHousekeeping(statement));
    for (const statement of oursStatements) if (isHousekeeping(statement)) extra.add(statement);
    parity.scenarios.push({
      scenario: kind.scenario,
      same: essential.join('\n') === floorStatements.join('\n'),
      ours: oursStatements,
      floor: floorStatements,
    });
  }
  parity.extra_statements = [...extra];
  return parity;
}

/** Statements a pool issues on its own, not the request's SQL. */
function isHousekeeping(statement: string): boolean {
  return /^(DISCARD|RESET|SET|DEALLOCATE)\b/i.test(statement);
}
