/**
 * Cursor pages are keyset pages: their cost must not grow with the page's depth or the table's
 * size. On a 50,000-row table this EXPLAINs the statements src/sessions/service.ts issues for
 * GET /sessions (reproduced here as they are built there: columns, the `is_active` filter of the
 * default include_deleted=false, the keyset row comparison, ORDER BY key + id, LIMIT limit+1
 * OFFSET 0) and checks each is an ordered index scan that reads about one page of rows.
 *
 * Which pages have an index is a decision (sql/1764064800004, docs/performance.md "Indexes"):
 * every sort within one user, and created_at across users. The other sorts across users have
 * none (each index is written by every session write, appends included); they are sorts of the
 * whole table, bounded by the statement timeout, and the tests below say so.
 */
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ApiResponse } from './support/client.ts';
import { withClient } from './support/database.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();

const ROWS = 50_000;
const USERS = 5;
const LIMIT = 20; // the default page size: the service asks for LIMIT + 1 rows
const COLUMNS = 'id, user_id, title, status, is_active, metadata, message_count, last_message_at, created_at, updated_at, version';

type PlanNode = {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
};

function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}

async function explain(client: pg.Client, statement: string, values: unknown[]): Promise<PlanNode> {
  const result = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement}`, values);
  return (result.rows[0]['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan;
}

/** Rows the scans of a plan touched: those they returned plus those their filters threw away. */
function rowsRead(plan: PlanNode): number {
  return nodesOf(plan)
    .filter((node) => /Scan/.test(node['Node Type']))
    .reduce(
      (sum, node) =>
        sum +
        node['Actual Rows'] * node['Actual Loops'] +
        (node['Rows Removed by Filter'] ?? 0) +
        (node['Rows Removed by Index Recheck'] ?? 0),
      0,
    );
}

function describePlan(plan: PlanNode): string {
  return nodesOf(plan)
    .map((node) => `${node['Node Type']}${node['Index Name'] ? ` on ${node['Index Name']}` : ''} (rows ${node['Actual Rows']}, removed ${node['Rows Removed by Filter'] ?? 0})`)
    .join(' → ');
}

/**
 * No Sort, no sequential scan, an ordered index scan, and about one page of rows read. A query for
 * one user may be served by walking the all-users index and filtering on user_id (PostgreSQL
 * picks it when each user owns a fifth of a table whose rows are in created_at order): that reads
 * a page per user share, still a constant, so `shares` widens the bound for those queries.
 */
function expectKeysetPlan(plan: PlanNode, shares = 1): void {
  const types = nodesOf(plan).map((node) => node['Node Type']);
  const summary = describePlan(plan);
  expect(types.filter((type) => /Sort/.test(type)), summary).toEqual([]);
  expect(types.filter((type) => type === 'Seq Scan'), summary).toEqual([]);
  expect(types.some((type) => type === 'Index Scan' || type === 'Index Only Scan'), summary).toBe(true);
  // One page (LIMIT + 1) plus the few soft-deleted rows (2 % of the table) the filter skips.
  expect(rowsRead(plan), summary).toBeLessThanOrEqual(2 * (LIMIT + 1) * shares);
}

let dbUrl: string;
const sql = <T>(work: (client: pg.Client) => Promise<T>) => withClient(dbUrl, work);

/** The sort position `depth` rows into a listing, as a next_cursor would carry it. */
async function positionAt(client: pg.Client, where: string, orderBy: string, key: string, values: unknown[], depth: number) {
  const result = await client.query(
    `SELECT ${key} AS value, id FROM chat_sessions WHERE ${where} ORDER BY ${orderBy} OFFSET ${depth} LIMIT 1`,
    values,
  );
  const row = result.rows[0] as { value: Date | string; id: string };
  return { value: row.value instanceof Date ? row.value.toISOString() : row.value, id: row.id };
}

beforeAll(async () => {
  dbUrl = service.databaseUrl;
  await sql(async (client) => {
    // Five users of 10,000 sessions; created_at ties in threes, updated_at is a permutation,
    // titles repeat (one in ten untitled), 2 % soft-deleted, statuses and metadata vary.
    await client.query(
      `INSERT INTO chat_sessions (user_id, title, status, is_active, metadata, created_at, updated_at)
       SELECT 'plan_user_' || (i % $2::int),
              CASE WHEN i % 10 = 0 THEN NULL ELSE 'title ' || lpad((i % 997)::text, 4, '0') END,
              (ARRAY['active', 'archived', 'closed'])[1 + i % 3],
              i % 50 <> 0,
              jsonb_build_object('source', CASE WHEN i % 2 = 0 THEN 'web' ELSE 'app' END),
              timestamptz '2025-01-01' + (i / 3) * interval '1 second',
              timestamptz '2025-06-01' + ((i::bigint * 7919) % $1::int) * interval '1 second'
       FROM generate_series(1, $1::int) AS i`,
      [ROWS, USERS],
    );
    await client.query('ANALYZE chat_sessions');
  });
}, 120_000);

describe('list query plans on a 50,000-row table', () => {
  it('the seeded table has 50,000 rows', async () => {
    const count = await sql((client) => client.query('SELECT count(*)::int AS n FROM chat_sessions'));
    expect(count.rows[0].n).toBe(ROWS);
  });

  it("a user's first page by -created_at is an index scan reading about one page, without a sort", async () => {
    const plan = await sql((client) =>
      explain(
        client,
        `SELECT ${COLUMNS} FROM chat_sessions
         WHERE user_id = $1 AND is_active
         ORDER BY "created_at" DESC, id DESC
         LIMIT $2 OFFSET $3`,
        ['plan_user_1', LIMIT + 1, 0],
      ),
    );
    expectKeysetPlan(plan, USERS);
  });

  it("a user's keyset page 9,000 rows deep by -created_at reads about one page, not the rows before it", async () => {
    const plan = await sql(async (client) => {
      const position = await positionAt(client, `user_id = $1 AND is_active`, 'created_at DESC, id DESC', 'created_at', ['plan_user_1'], 9_000);
      return explain(
        client,
        `SELECT ${COLUMNS} FROM chat_sessions
         WHERE user_id = $1 AND is_active AND ("created_at", id) < ($2::timestamptz, $3::uuid)
         ORDER BY "created_at" DESC, id DESC
         LIMIT $4 OFFSET $5`,
        ['plan_user_1', position.value, position.id, LIMIT + 1, 0],
      );
    });
    expectKeysetPlan(plan, USERS);
  });

  it('the first page across users by -created_at (the default listing) reads one page, without a sort', async () => {
    const plan = await sql((client) =>
      explain(
        client,
        `SELECT ${COLUMNS} FROM chat_sessions
         WHERE is_active
         ORDER BY "created_at" DESC, id DESC
         LIMIT $1 OFFSET $2`,
        [LIMIT + 1, 0],
      ),
    );
    expectKeysetPlan(plan);
  });

  it("a user's keyset page by -updated_at (the most recently active first), 9,000 rows deep, reads about one page, without a sort", async () => {
    const plan = await sql(async (client) => {
      const position = await positionAt(client, 'user_id = $1 AND is_active', 'updated_at DESC, id DESC', 'updated_at', ['plan_user_4'], 9_000);
      return explain(
        client,
        `SELECT ${COLUMNS} FROM chat_sessions
         WHERE user_id = $1 AND is_active AND ("updated_at", id) < ($2::timestamptz, $3::uuid)
         ORDER BY "updated_at" DESC, id DESC
         LIMIT $4 OFFSET $5`,
        ['plan_user_4', position.value, position.id, LIMIT + 1, 0],
      );
    });
    expectKeysetPlan(plan);
  });

  it("a user's keyset page by title, 9,000 rows deep, reads about one page, without a sort", async () => {
    const plan = await sql(async (client) => {
      const position = await positionAt(client, 'user_id = $1 AND is_active', `coalesce(title, '') ASC, id ASC`, `coalesce(title, '')`, ['plan_user_3'], 9_000);
      return explain(
        client,
        `SELECT ${COLUMNS} FROM chat_sessions
         WHERE user_id = $1 AND is_active AND (coalesce(title, ''), id) > ($2::text, $3::uuid)
         ORDER BY coalesce(title, '') ASC, id ASC
         LIMIT $4 OFFSET $5`,
        ['plan_user_3', position.value, position.id, LIMIT + 1, 0],
      );
    });
    expectKeysetPlan(plan);
  });

  it('a keyset page across users by created_at, 40,000 rows deep, reads one page, without a sort', async () => {
    const plan = await sql(async (client) => {
      const position = await positionAt(client, 'is_active', 'created_at ASC, id ASC', 'created_at', [], 40_000);
      return explain(
        client,
        `SELECT ${COLUMNS} FROM chat_sessions
         WHERE is_active AND ("created_at", id) > ($1::timestamptz, $2::uuid)
         ORDER BY "created_at" ASC, id ASC
         LIMIT $3 OFFSET $4`,
        [position.value, position.id, LIMIT + 1, 0],
      );
    });
    expectKeysetPlan(plan);
  });

  // No index of their own, by decision: a sort of every live row, which the statement timeout bounds
  // (a 422 query-too-broad past it). If one of these becomes index-served, its index was added back:
  // weigh it against what it costs every write (docs/performance.md) and turn this into a keyset test.
  it.each([
    ['-updated_at', 'updated_at DESC, id DESC'],
    ['title', `coalesce(title, '') ASC, id ASC`],
  ])('a page across users by %s has no index of its own: it sorts the whole table', async (_sort, orderBy) => {
    const plan = await sql((client) =>
      explain(client, `SELECT ${COLUMNS} FROM chat_sessions WHERE is_active ORDER BY ${orderBy} LIMIT $1 OFFSET $2`, [LIMIT + 1, 0]),
    );
    const types = nodesOf(plan).map((node) => node['Node Type']);
    expect(types, describePlan(plan)).toContain('Sort');
    expect(rowsRead(plan), describePlan(plan)).toBeGreaterThanOrEqual(ROWS * 0.98);
  });

  it('q and metadata within one user are filters over at most that user\'s rows: no index of their own, no sequential scan', async () => {
    const plan = await sql((client) =>
      explain(
        client,
        `SELECT ${COLUMNS} FROM chat_sessions
         WHERE user_id = $1 AND is_active AND title ILIKE $2 ESCAPE '\\' AND metadata @> $3::jsonb
         ORDER BY "created_at" DESC, id DESC
         LIMIT $4 OFFSET $5`,
        ['plan_user_1', '%title 04%', '{"source":"web"}', LIMIT + 1, 0],
      ),
    );
    expect(nodesOf(plan).map((node) => node['Node Type']), describePlan(plan)).not.toContain('Seq Scan');
    // At most the user's share of the table (10,000 rows here), whichever index PostgreSQL walks.
    expect(rowsRead(plan), describePlan(plan)).toBeLessThanOrEqual(ROWS / USERS);
  });

  it("a user's keyset page by -title, 5,000 rows deep, reads about one page, without a sort", async () => {
    const plan = await sql(async (client) => {
      const position = await positionAt(client, 'user_id = $1 AND is_active', `coalesce(title, '') DESC, id DESC`, `coalesce(title, '')`, ['plan_user_2'], 5_000);
      return explain(
        client,
        `SELECT ${COLUMNS} FROM chat_sessions
         WHERE user_id = $1 AND is_active AND (coalesce(title, ''), id) < ($2::text, $3::uuid)
         ORDER BY coalesce(title, '') DESC, id DESC
         LIMIT $4 OFFSET $5`,
        ['plan_user_2', position.value, position.id, LIMIT + 1, 0],
      );
    });
    expectKeysetPlan(plan, USERS);
  });

  it('control: the rows-read measure does see the rows an offset page skips', async () => {
    const plan = await sql((client) =>
      explain(
        client,
        `SELECT ${COLUMNS} FROM chat_sessions
         WHERE user_id = $1 AND is_active
         ORDER BY "created_at" DESC, id DESC
         LIMIT $2 OFFSET $3`,
        ['plan_user_1', LIMIT + 1, 9_000],
      ),
    );
    expect(rowsRead(plan)).toBeGreaterThan(9_000);
  });
});

describe('deep cursor pages through the API on a 50,000-row table', () => {
  const list = (query: string): Promise<ApiResponse> => service.api.get(`/sessions?${query}`);
  const ids = (response: ApiResponse) => (response.body.items as { id: string }[]).map((item) => item.id);

  it.each([
    // sort, filter, offset of the page whose next_cursor is used (each user has 9,800 live sessions)
    ['-created_at', 'all users', 9_900],
    ['created_at', 'all users', 9_900],
    ['-updated_at', 'all users', 9_900],
    ['updated_at', 'all users', 9_900],
    ['title', 'all users', 9_900],
    ['-title', 'all users', 9_900],
    ['-created_at', 'user_id=plan_user_3', 9_000],
    ['updated_at', 'user_id=plan_user_3', 9_000],
    ['title', 'user_id=plan_user_3', 9_000],
  ] as const)('with sort=%s (%s) the next_cursor of the page at offset %i gives the same rows as the next offset page', async (sort, filter, offset) => {
    const prefix = filter === 'all users' ? '' : `${filter}&`;
    const before = await list(`${prefix}sort=${sort}&offset=${offset}&limit=100`);
    expect(before.status).toBe(200);
    expect(before.body.items).toHaveLength(100);
    expect(before.body.next_cursor).toEqual(expect.any(String));
    const cursorPage = await list(`${prefix}sort=${sort}&limit=50&cursor=${before.body.next_cursor}`);
    const offsetPage = await list(`${prefix}sort=${sort}&limit=50&offset=${offset + 100}`);
    expect(cursorPage.status).toBe(200);
    expect(offsetPage.body.items).toHaveLength(50);
    expect(ids(cursorPage)).toEqual(ids(offsetPage));
  });

  it('a cursor walk can go on past the offset limit: 10 pages from row 9,900 continue without gaps', async () => {
    // The rows the walk must return, read straight from the table.
    const expected = await sql(async (client) => {
      const result = await client.query(
        `SELECT id FROM chat_sessions WHERE is_active ORDER BY updated_at DESC, id DESC OFFSET 10000 LIMIT 1000`,
      );
      return result.rows.map((row) => row.id as string);
    });
    let page = await list('sort=-updated_at&offset=9900&limit=100');
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      page = await list(`sort=-updated_at&limit=100&cursor=${page.body.next_cursor}`);
      expect(page.status).toBe(200);
      seen.push(...ids(page));
    }
    expect(seen).toEqual(expected);
  });
});
