/**
 * GET /sessions: filters, sorts, offset paging and include_total (cursors: sessions-cursor.test.ts).
 *
 * Rows are seeded with SQL (so timestamps and titles can tie for real) under a user id of their
 * own per test; every request goes through the real server and every response is checked
 * against openapi.yaml by the client.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ApiResponse } from './support/client.ts';
import { withClient } from './support/database.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();

type Status = 'active' | 'archived' | 'closed';
type SeedRow = {
  user_id: string;
  title?: string | null;
  status?: Status;
  is_active?: boolean;
  metadata?: Record<string, unknown>;
  created_at?: string;
  updated_at?: string;
};
type Stored = {
  id: string;
  user_id: string;
  title: string | null;
  status: Status;
  is_active: boolean;
  metadata: Record<string, unknown>;
  message_count: number;
  last_message_at: string | null;
  current_message_id: string | null;
  created_at: string;
  updated_at: string;
};
type Sort = 'created_at' | '-created_at' | 'updated_at' | '-updated_at' | 'title' | '-title';
type Query = Record<string, string | number | boolean | (string | number)[]>;

const newUser = () => `list-${randomUUID()}`;

/** Inserts rows directly (one statement); missing timestamps default to now(), updated_at to created_at. */
async function seed(rows: SeedRow[]): Promise<Stored[]> {
  return withClient(service.databaseUrl, async (client) => {
    const result = await client.query(
      `INSERT INTO chat_sessions (user_id, title, status, is_active, metadata, created_at, updated_at)
       SELECT r.user_id, r.title, coalesce(r.status, 'active'), coalesce(r.is_active, true),
              coalesce(r.metadata, '{}'::jsonb), coalesce(r.created_at, now()), coalesce(r.updated_at, r.created_at, now())
       FROM jsonb_to_recordset($1::jsonb) AS r(user_id text, title text, status text, is_active boolean,
                                               metadata jsonb, created_at timestamptz, updated_at timestamptz)
       RETURNING id, user_id, title, status, is_active, metadata, message_count, last_message_at, current_message_id, created_at, updated_at`,
      [JSON.stringify(rows)],
    );
    return result.rows.map((row) => ({
      ...row,
      created_at: (row.created_at as Date).toISOString(),
      updated_at: (row.updated_at as Date).toISOString(),
    })) as Stored[];
  });
}

function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
  }
  return params.toString();
}

function list(query: Query | string = {}): Promise<ApiResponse> {
  const search = typeof query === 'string' ? query : queryString(query);
  return service.api.get(`/sessions${search ? `?${search}` : ''}`);
}

const ids = (response: ApiResponse) => (response.body.items as Stored[]).map((item) => item.id);
const idsOf = (rows: Stored[]) => rows.map((row) => row.id);
const sameSet = (actual: string[], expected: string[]) => expect([...actual].sort()).toEqual([...expected].sort());

/** The order the contract promises: the sort key (untitled = ''), then id, both in the sort's direction. */
function ordered(rows: Stored[], sort: Sort): Stored[] {
  const descending = sort.startsWith('-');
  const key = sort.replace(/^-/, '') as 'created_at' | 'updated_at' | 'title';
  const valueOf = (row: Stored) => (key === 'title' ? (row.title ?? '') : row[key]);
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...rows].sort((a, b) => {
    const byKey = compare(valueOf(a), valueOf(b)) || compare(a.id, b.id);
    return descending ? -byKey : byKey;
  });
}

/** A 400 validation problem naming the query parameter `name`. */
function expectBadParameter(response: ApiResponse, name: string): void {
  expect(response.status).toBe(400);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ status: 400, type: '/problems/validation-failed' });
  const pointers = (response.body.errors as { in: string; pointer: string }[])
    .filter((error) => error.in === 'query')
    .map((error) => error.pointer);
  expect(pointers.some((pointer) => pointer === `/${name}` || pointer.startsWith(`/${name}/`))).toBe(true);
}

const at = (second: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, second)).toISOString();

describe('GET /sessions filters', () => {
  it('user_id lists only the sessions of that user', async () => {
    const [alice, bob] = [newUser(), newUser()];
    const rows = await seed([{ user_id: alice }, { user_id: alice }, { user_id: bob }]);
    const response = await list({ user_id: alice });
    expect(response.status).toBe(200);
    sameSet(ids(response), idsOf(rows.filter((row) => row.user_id === alice)));
  });

  it('without user_id, sessions of every user are listed', async () => {
    const token = `everyone${randomUUID().replaceAll('-', '')}`;
    const rows = await seed([
      { user_id: newUser(), title: `${token} one` },
      { user_id: newUser(), title: `${token} two` },
    ]);
    const response = await list({ q: token });
    sameSet(ids(response), idsOf(rows));
  });

  it('items are the stored sessions, field for field', async () => {
    const user = newUser();
    const [row] = await seed([
      { user_id: user, title: 'exact', status: 'archived', metadata: { source: 'web', n: 1 }, created_at: at(1), updated_at: at(2) },
    ]);
    const response = await list({ user_id: user });
    expect(response.body.items).toEqual([row]);
  });

  it('status=VALUE lists only sessions in that status', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, status: 'active' },
      { user_id: user, status: 'archived' },
      { user_id: user, status: 'closed' },
    ]);
    const response = await list({ user_id: user, status: 'archived' });
    sameSet(ids(response), idsOf(rows.filter((row) => row.status === 'archived')));
  });

  it('status repeated lists sessions in any of the given statuses', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, status: 'active' },
      { user_id: user, status: 'archived' },
      { user_id: user, status: 'closed' },
    ]);
    const response = await list({ user_id: user, status: ['active', 'closed'] });
    sameSet(ids(response), idsOf(rows.filter((row) => row.status !== 'archived')));
  });

  it('include_deleted defaults to false: soft-deleted sessions are hidden', async () => {
    const user = newUser();
    const rows = await seed([{ user_id: user }, { user_id: user, is_active: false }]);
    const response = await list({ user_id: user });
    sameSet(ids(response), idsOf(rows.filter((row) => row.is_active)));
  });

  it('include_deleted=true lists soft-deleted sessions too, with is_active false', async () => {
    const user = newUser();
    const rows = await seed([{ user_id: user }, { user_id: user, is_active: false }]);
    const response = await list({ user_id: user, include_deleted: true });
    sameSet(ids(response), idsOf(rows));
    const deleted = (response.body.items as Stored[]).find((item) => !item.is_active);
    expect(deleted?.id).toBe(rows.find((row) => !row.is_active)!.id);
  });

  it('a session soft-deleted through the API disappears from the default list', async () => {
    const user = newUser();
    const created = await service.api.post('/sessions', { user_id: user, title: 'to delete' });
    expect(created.status).toBe(201);
    expect((await service.api.delete(`/sessions/${created.body.id}`)).status).toBe(204);
    expect(ids(await list({ user_id: user }))).toEqual([]);
    expect(ids(await list({ user_id: user, include_deleted: true }))).toEqual([created.body.id]);
  });

  it('q matches a case-insensitive substring of the title', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, title: 'Quarterly REPORT' },
      { user_id: user, title: 'report card' },
      { user_id: user, title: 'Repo rt' },
      { user_id: user, title: null },
    ]);
    const response = await list({ user_id: user, q: 'rEpOrT' });
    sameSet(ids(response), idsOf(rows.slice(0, 2)));
  });

  it('q treats % literally: q=50% matches "50% off" but not "500 off"', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, title: '50% off' },
      { user_id: user, title: '500 off' },
    ]);
    const response = await list({ user_id: user, q: '50%' });
    expect(ids(response)).toEqual([rows.find((row) => row.title === '50% off')!.id]);
  });

  it('q treats _ literally: q=a_b matches "a_b" but not "axb"', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, title: 'a_b' },
      { user_id: user, title: 'axb' },
    ]);
    const response = await list({ user_id: user, q: 'a_b' });
    expect(ids(response)).toEqual([rows.find((row) => row.title === 'a_b')!.id]);
  });

  it('q treats a backslash literally', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, title: 'C:\\temp' },
      { user_id: user, title: 'C:temp' },
      { user_id: user, title: 'C:\\\\temp' },
    ]);
    const response = await list({ user_id: user, q: ':\\t' });
    expect(response.status).toBe(200);
    expect(ids(response)).toEqual([rows.find((row) => row.title === 'C:\\temp')!.id]);
  });

  it('created_after is a strict lower bound', async () => {
    const user = newUser();
    const rows = await seed([1, 2, 3].map((second) => ({ user_id: user, created_at: at(second) })));
    const response = await list({ user_id: user, created_after: at(2) });
    expect(ids(response)).toEqual([rows.find((row) => row.created_at === at(3))!.id]);
  });

  it('created_before is a strict upper bound', async () => {
    const user = newUser();
    const rows = await seed([1, 2, 3].map((second) => ({ user_id: user, created_at: at(second) })));
    const response = await list({ user_id: user, created_before: at(2) });
    expect(ids(response)).toEqual([rows.find((row) => row.created_at === at(1))!.id]);
  });

  it('created_after and created_before honour the time-zone offset of the instant', async () => {
    const user = newUser();
    const rows = await seed([1, 2, 3].map((second) => ({ user_id: user, created_at: at(second) })));
    // 2025-01-01T00:00:01Z and 00:00:03Z written in UTC+02:00.
    const response = await list({
      user_id: user,
      created_after: '2025-01-01T02:00:01+02:00',
      created_before: '2025-01-01T02:00:03+02:00',
    });
    expect(ids(response)).toEqual([rows.find((row) => row.created_at === at(2))!.id]);
  });

  it('created_before with sub-millisecond digits keeps a session created in the millisecond before it', async () => {
    const user = newUser();
    const [row] = await seed([{ user_id: user, created_at: '2025-01-01T00:00:00.123Z' }]);
    // .123 is strictly before .1235, so the session matches.
    const response = await list({ user_id: user, created_before: '2025-01-01T00:00:00.1235Z' });
    expect(response.status).toBe(200);
    expect(ids(response)).toEqual([row!.id]);
  });

  it('created_after with more than microsecond precision stays strict (no rounding up past a session)', async () => {
    const user = newUser();
    const [row] = await seed([{ user_id: user, created_at: '2025-01-01T00:00:01.000Z' }]);
    // 01.000 is strictly after 00.9999999, so the session matches.
    const response = await list({ user_id: user, created_after: '2025-01-01T00:00:00.9999999Z' });
    expect(response.status).toBe(200);
    expect(ids(response)).toEqual([row!.id]);
  });

  it('a leap-second bound (23:59:60) is honoured, never silently ignored', async () => {
    const user = newUser();
    await seed([{ user_id: user, created_at: '2025-01-01T00:00:00.000Z' }]);
    const response = await list({ user_id: user, created_before: '2016-12-31T23:59:60Z' });
    if (response.status === 400) {
      expectBadParameter(response, 'created_before');
    } else {
      expect(response.status).toBe(200);
      expect(ids(response)).toEqual([]); // the session was created years after the bound
    }
  });

  it('metadata[KEY]=VALUE lists sessions whose metadata has that key with that string value', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, metadata: { source: 'web' } },
      { user_id: user, metadata: { source: 'app' } },
      { user_id: user, metadata: { other: 'web' } },
      { user_id: user, metadata: {} },
    ]);
    const response = await list({ user_id: user, 'metadata[source]': 'web' });
    expect(ids(response)).toEqual([rows.find((row) => row.metadata.source === 'web')!.id]);
  });

  it('two metadata keys combine with AND', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, title: 'both', metadata: { source: 'web', model: 'x' } },
      { user_id: user, title: 'source only', metadata: { source: 'web', model: 'y' } },
      { user_id: user, title: 'model only', metadata: { source: 'app', model: 'x' } },
    ]);
    const response = await list({ user_id: user, 'metadata[source]': 'web', 'metadata[model]': 'x' });
    expect(ids(response)).toEqual([rows.find((row) => row.title === 'both')!.id]);
  });

  it('metadata filters match only string values, not numbers or booleans that print the same', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, title: 'string', metadata: { n: '5', flag: 'true' } },
      { user_id: user, title: 'number', metadata: { n: 5, flag: true } },
    ]);
    const stringRow = rows.find((row) => row.title === 'string')!.id;
    expect(ids(await list({ user_id: user, 'metadata[n]': '5' }))).toEqual([stringRow]);
    expect(ids(await list({ user_id: user, 'metadata[flag]': 'true' }))).toEqual([stringRow]);
  });

  it('filters combine with AND', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, title: 'match', status: 'closed', metadata: { source: 'web' }, created_at: at(5) },
      { user_id: user, title: 'match', status: 'active', metadata: { source: 'web' }, created_at: at(5) },
      { user_id: user, title: 'match', status: 'closed', metadata: { source: 'app' }, created_at: at(5) },
      { user_id: user, title: 'match', status: 'closed', metadata: { source: 'web' }, created_at: at(1) },
      { user_id: user, title: 'other', status: 'closed', metadata: { source: 'web' }, created_at: at(5) },
    ]);
    const response = await list({
      user_id: user,
      status: 'closed',
      q: 'MATCH',
      'metadata[source]': 'web',
      created_after: at(2),
    });
    expect(ids(response)).toEqual([rows[0]!.id]);
  });
});

describe('GET /sessions sorts', () => {
  /** Nine rows with ties on every key and two untitled sessions. */
  async function tiedRows(user: string): Promise<Stored[]> {
    return seed([
      { user_id: user, title: 'apple', created_at: at(1), updated_at: at(30) },
      { user_id: user, title: 'apple', created_at: at(1), updated_at: at(20) },
      { user_id: user, title: null, created_at: at(1), updated_at: at(20) },
      { user_id: user, title: 'banana', created_at: at(2), updated_at: at(20) },
      { user_id: user, title: null, created_at: at(2), updated_at: at(10) },
      { user_id: user, title: 'cherry', created_at: at(2), updated_at: at(10) },
      { user_id: user, title: 'apple', created_at: at(3), updated_at: at(30) },
      { user_id: user, title: 'banana', created_at: at(3), updated_at: at(30) },
      { user_id: user, title: 'cherry', created_at: at(3), updated_at: at(10) },
    ]);
  }

  it.each<Sort>(['created_at', '-created_at', 'updated_at', '-updated_at', 'title', '-title'])(
    'sort=%s orders by that key, ties broken by id in the same direction',
    async (sort) => {
      const user = newUser();
      const rows = await tiedRows(user);
      const response = await list({ user_id: user, sort, limit: 100 });
      expect(response.status).toBe(200);
      expect(ids(response)).toEqual(idsOf(ordered(rows, sort)));
    },
  );

  it('untitled sessions sort as the empty string: first for title, last for -title', async () => {
    const user = newUser();
    const rows = await seed([
      { user_id: user, title: 'a' },
      { user_id: user, title: null },
      { user_id: user, title: 'b' },
      { user_id: user, title: null },
    ]);
    const untitled = idsOf(rows.filter((row) => row.title === null)).sort();
    const ascending = ids(await list({ user_id: user, sort: 'title' }));
    const descending = ids(await list({ user_id: user, sort: '-title' }));
    expect(ascending.slice(0, 2)).toEqual(untitled);
    expect(descending.slice(2)).toEqual([...untitled].reverse());
  });

  it('the default sort is -created_at', async () => {
    const user = newUser();
    const rows = await tiedRows(user);
    const response = await list({ user_id: user });
    expect(ids(response)).toEqual(idsOf(ordered(rows, '-created_at')));
  });
});

describe('GET /sessions limit and offset', () => {
  async function manyRows(user: string, count: number): Promise<Stored[]> {
    return withClient(service.databaseUrl, async (client) => {
      const result = await client.query(
        `INSERT INTO chat_sessions (user_id, title, created_at, updated_at)
         SELECT $1, 'row ' || i, timestamptz '2025-01-01' + i * interval '1 second', timestamptz '2025-01-01' + i * interval '1 second'
         FROM generate_series(1, $2::int) AS i
         RETURNING id, user_id, title, status, is_active, metadata, message_count, last_message_at, current_message_id, created_at, updated_at`,
        [user, count],
      );
      return result.rows.map((row) => ({
        ...row,
        created_at: (row.created_at as Date).toISOString(),
        updated_at: (row.updated_at as Date).toISOString(),
      })) as Stored[];
    });
  }

  it('the default limit is 20', async () => {
    const user = newUser();
    const rows = await manyRows(user, 25);
    const response = await list({ user_id: user });
    expect(response.body.limit).toBe(20);
    expect(ids(response)).toEqual(idsOf(ordered(rows, '-created_at')).slice(0, 20));
  });

  it('limit=1 (the minimum) returns one session', async () => {
    const user = newUser();
    await manyRows(user, 3);
    const response = await list({ user_id: user, limit: 1 });
    expect(response.status).toBe(200);
    expect(response.body.limit).toBe(1);
    expect(response.body.items).toHaveLength(1);
  });

  it('limit=100 (the maximum) returns 100 sessions', async () => {
    const user = newUser();
    const rows = await manyRows(user, 101);
    const response = await list({ user_id: user, limit: 100 });
    expect(response.status).toBe(200);
    expect(response.body.limit).toBe(100);
    expect(ids(response)).toEqual(idsOf(ordered(rows, '-created_at')).slice(0, 100));
  });

  it.each([0, 101, -1])('limit=%s is a 400 naming /limit', async (limit) => {
    expectBadParameter(await list({ limit }), 'limit');
  });

  it('limit=abc is a 400 naming /limit', async () => {
    expectBadParameter(await list({ limit: 'abc' }), 'limit');
  });

  it('offset skips that many sessions and is echoed as `offset`', async () => {
    const user = newUser();
    const rows = await manyRows(user, 10);
    const response = await list({ user_id: user, offset: 3, limit: 4, sort: 'created_at' });
    expect(response.status).toBe(200);
    expect(response.body.offset).toBe(3);
    expect(ids(response)).toEqual(idsOf(ordered(rows, 'created_at')).slice(3, 7));
  });

  it('offset=0 is echoed as `offset: 0`', async () => {
    const user = newUser();
    await manyRows(user, 2);
    const response = await list({ user_id: user, offset: 0 });
    expect(response.body.offset).toBe(0);
    expect(response.body.items).toHaveLength(2);
  });

  it('without offset the response has no `offset` member', async () => {
    const response = await list({ user_id: newUser() });
    expect(response.status).toBe(200);
    expect(response.body).not.toHaveProperty('offset');
  });

  it('offset=10000 (the maximum) is accepted', async () => {
    const user = newUser();
    await manyRows(user, 2);
    const response = await list({ user_id: user, offset: 10000 });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ items: [], offset: 10000, next_cursor: null });
  });

  it.each([10001, -1])('offset=%s is a 400 naming /offset', async (offset) => {
    expectBadParameter(await list({ offset }), 'offset');
  });

  it('an offset page that reaches the last session has next_cursor null', async () => {
    const user = newUser();
    await manyRows(user, 10);
    const response = await list({ user_id: user, offset: 6, limit: 4 });
    expect(response.body.items).toHaveLength(4);
    expect(response.body.next_cursor).toBeNull();
  });

  it('an offset page with more sessions after it has a next_cursor', async () => {
    const user = newUser();
    await manyRows(user, 10);
    const response = await list({ user_id: user, offset: 5, limit: 4 });
    expect(response.body.next_cursor).toEqual(expect.any(String));
  });
});

describe('GET /sessions include_total', () => {
  async function fixture() {
    const user = newUser();
    const rows = await seed([
      ...Array.from({ length: 7 }, (_, i) => ({ user_id: user, status: 'closed' as const, created_at: at(i) })),
      { user_id: user, status: 'active' as const },
      { user_id: user, status: 'closed' as const, is_active: false },
    ]);
    return { user, rows };
  }

  it('include_total=true adds `total`, counting every match regardless of limit and offset', async () => {
    const { user } = await fixture();
    const response = await list({ user_id: user, status: 'closed', include_total: true, limit: 2, offset: 4 });
    expect(response.status).toBe(200);
    expect(response.body.items).toHaveLength(2);
    expect(response.body.total).toBe(7);
  });

  it('total is still the number of matches when the offset is past the last one', async () => {
    const { user } = await fixture();
    const response = await list({ user_id: user, include_total: true, offset: 50 });
    expect(response.body.items).toEqual([]);
    expect(response.body.total).toBe(8);
  });

  it('total counts soft-deleted sessions only with include_deleted=true', async () => {
    const { user } = await fixture();
    const response = await list({ user_id: user, include_total: true, include_deleted: true, limit: 1 });
    expect(response.body.total).toBe(9);
  });

  it('total is 0 when nothing matches', async () => {
    const response = await list({ user_id: newUser(), include_total: true });
    expect(response.body).toMatchObject({ items: [], total: 0, next_cursor: null });
  });

  it('without include_total the response has no `total` member', async () => {
    const { user } = await fixture();
    const response = await list({ user_id: user });
    expect(response.body).not.toHaveProperty('total');
  });

  it('include_total=false has no `total` member', async () => {
    const { user } = await fixture();
    const response = await list({ user_id: user, include_total: false });
    expect(response.body).not.toHaveProperty('total');
  });
});

describe('GET /sessions invalid parameters', () => {
  it('an unknown query parameter is a 400 naming it', async () => {
    expectBadParameter(await list({ colour: 'blue' }), 'colour');
  });

  it('a misspelt parameter (sort_by) is a 400, not silently ignored', async () => {
    expectBadParameter(await list({ sort_by: 'title' }), 'sort_by');
  });

  it('status=bogus is a 400 naming /status', async () => {
    expectBadParameter(await list({ status: 'bogus' }), 'status');
  });

  it('status with one valid and one bogus value is a 400 naming /status', async () => {
    expectBadParameter(await list({ status: ['active', 'bogus'] }), 'status');
  });

  it('sort=bogus is a 400 naming /sort', async () => {
    expectBadParameter(await list({ sort: 'bogus' }), 'sort');
  });

  it('created_after=yesterday is a 400 naming /created_after', async () => {
    expectBadParameter(await list({ created_after: 'yesterday' }), 'created_after');
  });

  it('created_before that is not a date-time is a 400 naming /created_before', async () => {
    expectBadParameter(await list({ created_before: '2025-13-45' }), 'created_before');
  });

  it('created_after without a time-zone offset is a 400 naming /created_after', async () => {
    expectBadParameter(await list({ created_after: '2025-01-01T00:00:00' }), 'created_after');
  });

  it('include_deleted=maybe is a 400 naming /include_deleted', async () => {
    expectBadParameter(await list({ include_deleted: 'maybe' }), 'include_deleted');
  });

  it('include_total=maybe is a 400 naming /include_total', async () => {
    expectBadParameter(await list({ include_total: 'maybe' }), 'include_total');
  });

  it('user_id with characters outside its alphabet is a 400 naming /user_id', async () => {
    expectBadParameter(await list({ user_id: 'bad user' }), 'user_id');
  });

  it('an empty q is a 400 naming /q', async () => {
    expectBadParameter(await list('q='), 'q');
  });

  it('a q of 201 characters is a 400 naming /q', async () => {
    expectBadParameter(await list({ q: 'x'.repeat(201) }), 'q');
  });

  it('a NUL character in q (%00) is a 400 naming /q, not a 500', async () => {
    expectBadParameter(await list('q=a%00b'), 'q');
  });

  it('a NUL character in a metadata filter value is a 400 naming the metadata parameter, not a 500', async () => {
    expectBadParameter(await list('metadata%5Bsource%5D=a%00b'), 'metadata');
  });

  it('a NUL character in a metadata filter key is a 400 naming the metadata parameter, not a 500', async () => {
    expectBadParameter(await list('metadata%5Ba%00b%5D=web'), 'metadata');
  });

  it('metadata given as a plain value instead of metadata[KEY]=VALUE is a 400 naming /metadata', async () => {
    expectBadParameter(await list({ metadata: 'web' }), 'metadata');
  });
});
