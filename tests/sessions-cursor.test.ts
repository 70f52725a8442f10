/**
 * GET /sessions cursor pagination: full walks in every sort, walks under concurrent writes,
 * tampered cursors, cursors bound to their sort and filters.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ApiResponse } from './support/client.ts';
import { withClient } from './support/database.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();

type Sort = 'created_at' | '-created_at' | 'updated_at' | '-updated_at' | 'title' | '-title';
const SORTS: Sort[] = ['created_at', '-created_at', 'updated_at', '-updated_at', 'title', '-title'];
type Row = { id: string; title: string | null; created_at: string; updated_at: string };
type Query = Record<string, string | number | boolean | (string | number)[]>;

const newUser = () => `cursor-${randomUUID()}`;

function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
  }
  return params.toString();
}

function list(query: Query): Promise<ApiResponse> {
  return service.api.get(`/sessions?${queryString(query)}`);
}

const ids = (response: ApiResponse) => (response.body.items as Row[]).map((item) => item.id);

/**
 * `count` rows for `user` inserted by SQL, with real ties: three rows share each created_at, four
 * each updated_at, and titles repeat over seven values, one of them untitled.
 * `createdFrom` is the first created_at; rows are one second apart per triple.
 */
async function seedTied(user: string, count: number, options: { createdFrom?: string; extra?: Record<string, unknown> } = {}) {
  return withClient(service.databaseUrl, async (client) => {
    const result = await client.query(
      `INSERT INTO chat_sessions (user_id, title, status, metadata, created_at, updated_at)
       SELECT $1,
              (ARRAY[NULL, 'alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'])[1 + i % 7],
              'active',
              $4::jsonb,
              $3::timestamptz + (i / 3) * interval '1 second',
              timestamptz '2025-06-01' + ((i * 7) % $2::int / 4) * interval '1 second'
       FROM generate_series(0, $2::int - 1) AS i
       RETURNING id, title, created_at, updated_at`,
      [user, count, options.createdFrom ?? '2025-01-01T00:00:00Z', JSON.stringify(options.extra ?? {})],
    );
    return result.rows.map((row) => ({
      id: row.id as string,
      title: row.title as string | null,
      created_at: (row.created_at as Date).toISOString(),
      updated_at: (row.updated_at as Date).toISOString(),
    }));
  });
}

const keyOf = (sort: Sort) => sort.replace(/^-/, '') as 'created_at' | 'updated_at' | 'title';
const valueOf = (row: Row, sort: Sort) => {
  const key = keyOf(sort);
  return key === 'title' ? (row.title ?? '') : row[key];
};

/** <0 when a comes first in this sort: the key (untitled = ''), then id, in the sort's direction. */
function compareIn(sort: Sort, a: Row, b: Row): number {
  const compare = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const result = compare(valueOf(a, sort), valueOf(b, sort)) || compare(a.id, b.id);
  return sort.startsWith('-') ? -result : result;
}

const ordered = (rows: Row[], sort: Sort) => [...rows].sort((a, b) => compareIn(sort, a, b));

/** Follows next_cursor from the first page to the last; `between` runs after each page. */
async function walk(query: Query, between: () => Promise<void> = async () => {}) {
  const pages: ApiResponse[] = [];
  let cursor: string | null | undefined;
  do {
    const response = await list(cursor ? { ...query, cursor } : query);
    expect(response.status).toBe(200);
    pages.push(response);
    cursor = response.body.next_cursor;
    await between();
    if (pages.length > 100) throw new Error('the walk does not end');
  } while (cursor);
  return { pages, items: pages.flatMap((page) => page.body.items as Row[]) };
}

function expectInvalidCursor(response: ApiResponse): void {
  expect(response.status).toBe(400);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body.status).toBe(400);
  expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'query', pointer: '/cursor' })]));
}

/** A real next_cursor from a first page of 10 (with 45 rows of its own behind it). */
async function freshCursor(query: Query = {}) {
  const user = newUser();
  const rows = await seedTied(user, 45);
  const first = await list({ user_id: user, limit: 10, ...query });
  const cursor = first.body.next_cursor as string;
  expect(cursor).toEqual(expect.any(String));
  return { user, rows, first, cursor };
}

describe('cursor walks', () => {
  const user = newUser();
  let rows: Row[];
  beforeAll(async () => {
    rows = await seedTied(user, 45);
  });

  it.each(SORTS)('a full walk with sort=%s returns every row exactly once, in order', async (sort) => {
    const { pages, items } = await walk({ user_id: user, sort, limit: 10 });
    expect(pages.map((page) => page.body.items.length)).toEqual([10, 10, 10, 10, 5]);
    expect(items.map((item) => item.id)).toEqual(ordered(rows, sort).map((row) => row.id));
  });

  it('every page but the last has a next_cursor; the last has next_cursor null', async () => {
    const { pages } = await walk({ user_id: user, limit: 10 });
    expect(pages.slice(0, -1).every((page) => typeof page.body.next_cursor === 'string')).toBe(true);
    expect(pages.at(-1)!.body.next_cursor).toBeNull();
  });

  it('next_cursor is null when the last page is exactly full', async () => {
    const { pages } = await walk({ user_id: user, limit: 15 });
    expect(pages.map((page) => page.body.items.length)).toEqual([15, 15, 15]);
    expect(pages.at(-1)!.body.next_cursor).toBeNull();
  });

  it('next_cursor is null when everything fits on the first page', async () => {
    const response = await list({ user_id: user, limit: 100 });
    expect(response.body.items).toHaveLength(45);
    expect(response.body.next_cursor).toBeNull();
  });

  it('cursor pages carry no `offset` member', async () => {
    const first = await list({ user_id: user, limit: 10 });
    const second = await list({ user_id: user, limit: 10, cursor: first.body.next_cursor });
    expect(second.status).toBe(200);
    expect(second.body).not.toHaveProperty('offset');
  });

  it('include_total on a cursor page counts every match, not the rows left', async () => {
    const first = await list({ user_id: user, limit: 10 });
    const second = await list({ user_id: user, limit: 10, cursor: first.body.next_cursor, include_total: true });
    expect(second.body.total).toBe(45);
  });

  it('a cursor reused with a different limit continues where the page ended', async () => {
    const sorted = ordered(rows, '-created_at').map((row) => row.id);
    const first = await list({ user_id: user, limit: 10 });
    const second = await list({ user_id: user, limit: 7, cursor: first.body.next_cursor });
    expect(second.status).toBe(200);
    expect(second.body.limit).toBe(7);
    expect(ids(second)).toEqual(sorted.slice(10, 17));
  });

  it('the next_cursor of an offset page continues right after that page', async () => {
    const sorted = ordered(rows, 'title').map((row) => row.id);
    const page = await list({ user_id: user, sort: 'title', offset: 5, limit: 10 });
    const next = await list({ user_id: user, sort: 'title', limit: 10, cursor: page.body.next_cursor });
    expect(ids(next)).toEqual(sorted.slice(15, 25));
  });

  it('the same cursor gives the same page twice', async () => {
    const first = await list({ user_id: user, limit: 10, sort: '-updated_at' });
    const again = { user_id: user, limit: 10, sort: '-updated_at', cursor: first.body.next_cursor };
    expect(ids(await list(again))).toEqual(ids(await list(again)));
  });
});

describe('cursor walks under concurrent writes', () => {
  it.each<Sort>(['-created_at', 'created_at', 'title'])(
    'with sort=%s, sessions created during the walk never duplicate or reorder the rows that existed before it',
    async (sort) => {
      const user = newUser();
      // Pre-existing rows span from 45 s ago to 45 s ahead, so new sessions land among them.
      const before = await seedTied(user, 45, { createdFrom: new Date(Date.now() - 45_000).toISOString() });
      const titles = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf'];

      let creating = true;
      let created = 0;
      const create = async () => {
        const response = await service.api.post('/sessions', { user_id: user, title: titles[created++ % titles.length] });
        expect(response.status).toBe(201);
      };
      const background = (async () => {
        while (creating) await Promise.all([create(), create()]);
      })();

      let items: Row[];
      try {
        // Between pages, also wait for a few creations so that writes surely interleave with the walk.
        ({ items } = await walk({ user_id: user, sort, limit: 10 }, () => Promise.all([create(), create(), create()]).then(() => {})));
      } finally {
        creating = false;
        await background;
      }
      expect(created).toBeGreaterThan(10);

      const seen = items.map((item) => item.id);
      expect(new Set(seen).size).toBe(seen.length); // nothing twice
      const beforeIds = new Set(before.map((row) => row.id));
      const preexisting = seen.filter((id) => beforeIds.has(id));
      expect(preexisting).toEqual(ordered(before, sort).map((row) => row.id)); // each once, in order
      for (let i = 1; i < items.length; i++) {
        expect(compareIn(sort, items[i - 1]!, items[i]!)).toBeLessThan(0); // the whole walk is in order
      }
    },
  );

  it('a cursor keeps working after the session it stopped at is hard-deleted', async () => {
    const { user, rows, first, cursor } = await freshCursor();
    const last = (first.body.items as Row[]).at(-1)!;
    expect((await service.api.delete(`/sessions/${last.id}?hard=true`)).status).toBe(204);
    const next = await list({ user_id: user, limit: 10, cursor });
    expect(next.status).toBe(200);
    expect(ids(next)).toEqual(ordered(rows, '-created_at').map((row) => row.id).slice(10, 20));
  });
});

describe('tampered cursors', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  /** Flips the top bit of the character's 6-bit value: the decoded bytes always change. */
  const flipAt = (cursor: string, index: number) =>
    cursor.slice(0, index) + alphabet[alphabet.indexOf(cursor[index]!) ^ 0b100000] + cursor.slice(index + 1);

  it('changing any single character of a cursor is a 400 naming /cursor', async () => {
    const { user, cursor } = await freshCursor();
    const accepted: number[] = [];
    for (let index = 0; index < cursor.length; index++) {
      const response = await list({ user_id: user, limit: 10, cursor: flipAt(cursor, index) });
      if (response.status !== 400) accepted.push(index);
      else expectInvalidCursor(response);
    }
    expect(accepted).toEqual([]);
  });

  it('a tampered cursor is answered with the invalid-cursor problem type', async () => {
    const { user, cursor } = await freshCursor();
    const response = await list({ user_id: user, limit: 10, cursor: flipAt(cursor, 3) });
    expectInvalidCursor(response);
    expect(response.body).toMatchObject({ type: '/problems/invalid-cursor', title: 'Invalid cursor' });
  });

  it.each([
    ['the last character dropped', (cursor: string) => cursor.slice(0, -1)],
    ['cut in half', (cursor: string) => cursor.slice(0, Math.floor(cursor.length / 2))],
    ['only its signature part kept', (cursor: string) => cursor.slice(0, 22)],
    ['a character appended', (cursor: string) => `${cursor}A`],
  ])('a cursor with %s is a 400 naming /cursor', async (_name, tamper) => {
    const { user, cursor } = await freshCursor();
    expectInvalidCursor(await list({ user_id: user, limit: 10, cursor: tamper(cursor) }));
  });

  it.each([
    ['garbage text', 'garbage'],
    ['a single character', 'x'],
    ['base64url of junk text', Buffer.from('this is not a cursor, just some junk bytes').toString('base64url')],
    ['base64url of random bytes', randomBytes(80).toString('base64url')],
    ['base64url of a forged position with a random signature', Buffer.concat([randomBytes(16), Buffer.from('["abc",0,"00000000-0000-0000-0000-000000000000"]')]).toString('base64url')],
    ['base64url of JSON that is not a cursor', Buffer.from('{"value":1,"id":"x"}'.repeat(3)).toString('base64url')],
  ])('a cursor of %s is a 400 naming /cursor', async (_name, cursor) => {
    expectInvalidCursor(await list({ limit: 10, cursor }));
  });

  it.each([
    ['characters outside base64url', 'abc+/def=='],
    ['an empty value', ''],
    ['more than 2048 characters', 'A'.repeat(2049)],
    ['a NUL character', 'abc\u0000def'],
  ])('a cursor with %s is a 400 naming /cursor', async (_name, cursor) => {
    expectInvalidCursor(await list({ limit: 10, cursor }));
  });
});

describe('cursors are bound to their sort and filters', () => {
  // The original request: every kind of filter, so that each can be changed alone.
  const user = newUser();
  const original: Query = {
    user_id: user,
    status: ['active', 'closed'],
    q: 'ALPHA',
    'metadata[source]': 'web',
    'metadata[model]': 'm1',
    created_after: '2000-01-01T00:00:00Z',
    created_before: '2100-01-01T00:00:00Z',
    sort: '-created_at',
    limit: 3,
  };
  let cursor: string;
  let expectedSecondPage: string[];

  beforeAll(async () => {
    const rows = await seedTied(user, 70, { extra: { source: 'web', model: 'm1' } });
    const matching = ordered(rows.filter((row) => row.title === 'alpha'), '-created_at');
    expect(matching.length).toBeGreaterThan(6);
    expectedSecondPage = matching.slice(3, 6).map((row) => row.id);
    const first = await list(original);
    cursor = first.body.next_cursor;
    expect(cursor).toEqual(expect.any(String));
  });

  const without = (name: string): Query => Object.fromEntries(Object.entries(original).filter(([key]) => key !== name));

  it('the cursor works with the same sort and filters', async () => {
    const response = await list({ ...original, cursor });
    expect(ids(response)).toEqual(expectedSecondPage);
  });

  it('the cursor works with repeated filters given in another order', async () => {
    const response = await list({
      cursor,
      limit: 3,
      'metadata[model]': 'm1',
      'metadata[source]': 'web',
      status: ['closed', 'active'],
      created_before: '2100-01-01T00:00:00Z',
      created_after: '2000-01-01T00:00:00Z',
      q: 'ALPHA',
      user_id: user,
      sort: '-created_at',
    });
    expect(ids(response)).toEqual(expectedSecondPage);
  });

  it('the cursor works with defaults spelled out (include_deleted=false)', async () => {
    const response = await list({ ...original, include_deleted: false, cursor });
    expect(ids(response)).toEqual(expectedSecondPage);
  });

  it('the cursor works with a different limit', async () => {
    const response = await list({ ...original, limit: 2, cursor });
    expect(ids(response)).toEqual(expectedSecondPage.slice(0, 2));
  });

  it.each<[string, Query]>([
    ['a different sort (created_at)', { sort: 'created_at' }],
    ['a different sort (-title)', { sort: '-title' }],
    ['a different user_id', { user_id: newUser() }],
    ['a different status set', { status: 'active' }],
    ['a different q', { q: 'ALPH' }],
    ['include_deleted=true', { include_deleted: true }],
    ['a different metadata value', { 'metadata[source]': 'app' }],
    ['an extra metadata key', { 'metadata[extra]': 'x' }],
    ['a different created_after', { created_after: '2001-01-01T00:00:00Z' }],
    ['a different created_before', { created_before: '2099-01-01T00:00:00Z' }],
  ])('the cursor with %s is a 400 naming /cursor', async (_name, change) => {
    const response = await list({ ...original, ...change, cursor });
    expectInvalidCursor(response);
    expect(response.body.type).toBe('/problems/invalid-cursor');
  });

  it('the cursor works with the default sort left out instead of spelled out', async () => {
    const response = await list({ ...without('sort'), cursor });
    expect(ids(response)).toEqual(expectedSecondPage);
  });

  it.each(['user_id', 'status', 'q', 'metadata[model]', 'created_after'])(
    'the cursor without %s is a 400 naming /cursor',
    async (name) => {
      const response = await list({ ...without(name), cursor });
      expectInvalidCursor(response);
    },
  );

  it('offset and cursor together are a 400', async () => {
    const response = await list({ ...original, offset: 0, cursor });
    expect(response.status).toBe(400);
    expect(response.body.type).toBe('/problems/validation-failed');
    const pointers = (response.body.errors as { in: string; pointer: string }[]).map((error) => `${error.in} ${error.pointer}`);
    expect(pointers.some((pointer) => pointer === 'query /cursor' || pointer === 'query /offset')).toBe(true);
  });
});
