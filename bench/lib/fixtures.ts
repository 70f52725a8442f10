/**
 * What the load is made of (ids, users, deep cursors), and the check that the floor really
 * issues the service's SQL.
 */
import { floorCursor } from './floor-cursor.ts';
import type { Fixtures, ScenarioName } from './load.ts';
import type { Cluster } from './postgres.ts';
import { withClient } from './postgres.ts';
import { POWER_USERS, userId } from './seed.ts';
import type { Server } from './servers.ts';

export const DEEP_PAGES = 50;

export async function loadFixtures(url: string, users: number): Promise<Pick<Fixtures, 'ids' | 'users'>> {
  const ids = await withClient(url, async (client) => {
    const { rows } = await client.query<{ id: string }>('SELECT id FROM chat_sessions WHERE is_active ORDER BY random() LIMIT 20000');
    return rows.map((row) => row.id);
  });
  return { ids, users: Array.from({ length: users }, (_, index) => userId(index)) };
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
