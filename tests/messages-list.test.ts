/**
 * GET /sessions/{id}/messages (SPEC.md, "Listing"): order, limit, seq windows, paging to the end,
 * role filter, total; and a page's cost independent of the session's length and the table's size.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { expectProblem, messagesOf, text, user } from './support/messages.ts';
import { expectInvalid } from './support/problems.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();
const messages = messagesOf(service);

/** A session of `n` messages whose text is their seq; roles cycle user, assistant, tool. */
async function sessionOf(n: number) {
  const session = await messages.session();
  const roles = ['user', 'assistant', 'tool'];
  for (let start = 1; start <= n; start += 100) {
    const batch = Array.from({ length: Math.min(100, n - start + 1) }, (_, i) => ({
      role: roles[(start + i - 1) % 3],
      content: [text(String(start + i))],
    }));
    await messages.appendOk(session.id, batch);
  }
  return session;
}
const seqs = (response: { body: { items: { seq: number }[] } }) => response.body.items.map((item) => item.seq);
const range = (from: number, to: number) =>
  from <= to ? Array.from({ length: to - from + 1 }, (_, i) => from + i) : Array.from({ length: from - to + 1 }, (_, i) => from - i);

let thirty: { id: string };
beforeAll(async () => {
  thirty = await sessionOf(30);
});

describe('order and limit', () => {
  it('the default is newest first, 20 per page, with has_more', async () => {
    const response = await messages.list(thirty.id);
    expect(response.status).toBe(200);
    expect(seqs(response)).toEqual(range(30, 11));
    expect(response.body).toMatchObject({ limit: 20, order: 'desc', has_more: true });
    expect(response.body.total).toBeUndefined();
  });

  it('order=asc is oldest first', async () => {
    const response = await messages.list(thirty.id, 'order=asc&limit=5');
    expect(seqs(response)).toEqual([1, 2, 3, 4, 5]);
    expect(response.body).toMatchObject({ order: 'asc', limit: 5, has_more: true });
  });

  it('items are whole messages', async () => {
    const response = await messages.list(thirty.id, 'order=asc&limit=1');
    const read = await messages.get(thirty.id, response.body.items[0].id);
    // A branch listing adds where the message stands among its siblings.
    expect(response.body.items[0]).toEqual({ ...read.body, sibling_count: 1, sibling_index: 1 });
  });

  it('limit=100 is accepted', async () => {
    const response = await messages.list(thirty.id, 'limit=100');
    expect(seqs(response)).toEqual(range(30, 1));
    expect(response.body.has_more).toBe(false);
  });

  it('a page exactly as long as what is left has has_more false', async () => {
    const response = await messages.list(thirty.id, 'limit=30');
    expect(response.body.items).toHaveLength(30);
    expect(response.body.has_more).toBe(false);
  });

  it.each(['0', '101', '-1', '2.5', 'ten'])('limit=%s is a 400 naming it', async (limit) => {
    expectInvalid(await messages.list(thirty.id, `limit=${limit}`), { in: 'query', pointer: '/limit' });
  });

  it('an unknown order is a 400 naming it', async () => {
    expectInvalid(await messages.list(thirty.id, 'order=random'), { in: 'query', pointer: '/order' });
  });
});

describe('seq windows', () => {
  it('after_seq lists the messages above it', async () => {
    expect(seqs(await messages.list(thirty.id, 'order=asc&after_seq=25'))).toEqual([26, 27, 28, 29, 30]);
  });

  it('before_seq lists the messages below it, newest first', async () => {
    expect(seqs(await messages.list(thirty.id, 'before_seq=4'))).toEqual([3, 2, 1]);
  });

  it('both together give a window, in either order', async () => {
    expect(seqs(await messages.list(thirty.id, 'after_seq=10&before_seq=15'))).toEqual([14, 13, 12, 11]);
    expect(seqs(await messages.list(thirty.id, 'order=asc&after_seq=10&before_seq=15'))).toEqual([11, 12, 13, 14]);
  });

  it('has_more stays within the window', async () => {
    const response = await messages.list(thirty.id, 'order=asc&after_seq=10&before_seq=15&limit=4');
    expect(seqs(response)).toEqual([11, 12, 13, 14]);
    expect(response.body.has_more).toBe(false);
    expect((await messages.list(thirty.id, 'order=asc&after_seq=10&before_seq=15&limit=3')).body.has_more).toBe(true);
  });

  it('an empty window is an empty page', async () => {
    const response = await messages.list(thirty.id, 'after_seq=20&before_seq=21');
    expect(response.body).toMatchObject({ items: [], has_more: false });
    expect(seqs(await messages.list(thirty.id, 'after_seq=30'))).toEqual([]);
    expect(seqs(await messages.list(thirty.id, 'before_seq=1'))).toEqual([]);
  });

  it('after_seq=0 is every message', async () => {
    expect(seqs(await messages.list(thirty.id, 'order=asc&after_seq=0&limit=100'))).toEqual(range(1, 30));
  });

  it.each([
    ['after_seq', '-1'],
    ['before_seq', '-5'],
    ['after_seq', '1.5'],
    ['before_seq', 'x'],
    ['after_seq', '2147483648'],
  ])('%s=%s is a 400 naming it', async (name, value) => {
    expectInvalid(await messages.list(thirty.id, `${name}=${value}`), { in: 'query', pointer: `/${name}` });
  });
});

describe('paging through a session', () => {
  it('newest first with before_seq=<last seq> visits every message once, then has_more false', async () => {
    const seen: number[] = [];
    let query = 'limit=7';
    for (let page = 0; page < 10; page++) {
      const response = await messages.list(thirty.id, query);
      seen.push(...seqs(response));
      if (!response.body.has_more) break;
      query = `limit=7&before_seq=${seen.at(-1)}`;
    }
    expect(seen).toEqual(range(30, 1));
  });

  it('oldest first with after_seq=<last seq> visits every message once, then has_more false', async () => {
    const seen: number[] = [];
    let query = 'order=asc&limit=8';
    for (let page = 0; page < 10; page++) {
      const response = await messages.list(thirty.id, query);
      seen.push(...seqs(response));
      if (!response.body.has_more) break;
      query = `order=asc&limit=8&after_seq=${seen.at(-1)}`;
    }
    expect(seen).toEqual(range(1, 30));
  });

  it('a message appended meanwhile shows up on the next ascending page, nothing is repeated', async () => {
    const session = await sessionOf(5);
    const first = await messages.list(session.id, 'order=asc&limit=3');
    await messages.appendOk(session.id, [user('6')]);
    const second = await messages.list(session.id, `order=asc&limit=3&after_seq=3`);
    expect([...seqs(first), ...seqs(second)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a page after a deleted message skips its seq (seqs have gaps, pages do not)', async () => {
    const session = await sessionOf(5);
    const third = (await messages.list(session.id, 'order=asc&after_seq=2&limit=1')).body.items[0];
    expect((await messages.remove(session.id, third.id)).status).toBe(204);
    expect(seqs(await messages.list(session.id, 'order=asc&limit=3'))).toEqual([1, 2, 4]);
  });
});

describe('role filter and total', () => {
  it('role selects the messages of that role', async () => {
    const response = await messages.list(thirty.id, 'role=user&order=asc&limit=100');
    expect(seqs(response)).toEqual(range(1, 30).filter((seq) => seq % 3 === 1));
    expect(response.body.items.every((item: { role: string }) => item.role === 'user')).toBe(true);
  });

  it('role is repeatable', async () => {
    const response = await messages.list(thirty.id, 'role=user&role=tool&order=asc&limit=100');
    expect(seqs(response)).toEqual(range(1, 30).filter((seq) => seq % 3 !== 2));
  });

  it('role pages with has_more like any page', async () => {
    const response = await messages.list(thirty.id, 'role=assistant&limit=3');
    expect(seqs(response)).toEqual([29, 26, 23]);
    expect(response.body.has_more).toBe(true);
  });

  it('a role of which there is none is an empty page', async () => {
    expect((await messages.list(thirty.id, 'role=system')).body).toMatchObject({ items: [], has_more: false });
  });

  it('an unknown role is a 400 naming it', async () => {
    const response = await messages.list(thirty.id, 'role=robot');
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toMatchObject({ in: 'query', pointer: expect.stringMatching(/^\/role/) });
  });

  it('include_total counts every message of the session, whatever the window and page', async () => {
    const response = await messages.list(thirty.id, 'include_total=true&limit=2&after_seq=20');
    expect(response.body.total).toBe(30);
    expect(response.body.items).toHaveLength(2);
  });

  it('include_total with role counts the messages of those roles', async () => {
    expect((await messages.list(thirty.id, 'include_total=true&role=user')).body.total).toBe(10);
    expect((await messages.list(thirty.id, 'include_total=true&role=user&role=tool&limit=1')).body.total).toBe(20);
    expect((await messages.list(thirty.id, 'include_total=true&role=system')).body.total).toBe(0);
  });

  it('include_total=false leaves total out', async () => {
    expect((await messages.list(thirty.id, 'include_total=false')).body).not.toHaveProperty('total');
  });

  it('total follows deletes', async () => {
    const session = await sessionOf(4);
    const [newest] = (await messages.list(session.id, 'limit=1')).body.items;
    await messages.remove(session.id, newest.id);
    expect((await messages.list(session.id, 'include_total=true')).body.total).toBe(3);
  });

  it('include_total=yes is a 400 naming it', async () => {
    expectInvalid(await messages.list(thirty.id, 'include_total=yes'), { in: 'query', pointer: '/include_total' });
  });
});

describe('which session', () => {
  it('an empty session is an empty page (total 0)', async () => {
    const session = await messages.session();
    const response = await messages.list(session.id, 'include_total=true');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ items: [], limit: 20, order: 'desc', has_more: false, total: 0 });
  });

  it('an unknown session is a 404, even with an empty window', async () => {
    expectProblem(await messages.list(randomUUID()), 404, 'not-found');
    expectProblem(await messages.list(randomUUID(), 'after_seq=5&before_seq=6'), 404, 'not-found');
  });

  it('only the messages of this session are listed', async () => {
    const a = await sessionOf(3);
    const b = await sessionOf(2);
    const response = await messages.list(b.id, 'limit=100');
    expect(response.body.items.map((item: { session_id: string }) => item.session_id)).toEqual([b.id, b.id]);
    expect(seqs(await messages.list(a.id))).toEqual([3, 2, 1]);
  });

  it("a closed session's messages are still listed", async () => {
    const session = await sessionOf(3);
    expect((await service.api.patch(`/sessions/${session.id}`, { status: 'closed' })).status).toBe(200);
    expect(seqs(await messages.list(session.id))).toEqual([3, 2, 1]);
  });

  it("a soft-deleted session's messages are still listed", async () => {
    const session = await sessionOf(3);
    expect((await service.api.delete(`/sessions/${session.id}`)).status).toBe(204);
    expect(seqs(await messages.list(session.id))).toEqual([3, 2, 1]);
  });

  it('a malformed session id is a 400 naming it', async () => {
    expectInvalid(await messages.list('42'), { in: 'path', pointer: '/id' });
  });
});

/**
 * The statement src/messages/service.ts issues for a page, EXPLAINed on a table of 100,000
 * messages whose one long session holds 50,000, among 5,000 sessions: a range scan of
 * chat_messages_pkey from the window's edge that reads limit + 1 rows, whatever the depth, and
 * one session row read by its key.
 */
describe('a page costs the same whatever the session length', () => {
  type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Actual Rows': number; 'Actual Loops': number; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] };
  const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];
  const LONG = 50_000;
  let longSession: string;

  const explainPage = (client: pg.Client, where: string, order: 'ASC' | 'DESC', values: unknown[]) =>
    client
      .query(
        `EXPLAIN (ANALYZE, FORMAT JSON)
         SELECT m.id, m.seq, m.content, m.status, s.message_count
         FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
         WHERE m.session_id = $1 AND s.user_id = $2 ${where}
         ORDER BY m.seq ${order} LIMIT 21`,
        values,
      )
      .then((result) => (result.rows[0]['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan);

  const expectRangeScan = (plan: PlanNode) => {
    const nodes = nodesOf(plan);
    const summary = nodes.map((node) => `${node['Node Type']}${node['Index Name'] ? ` on ${node['Index Name']}` : ''} (${node['Actual Rows']})`).join(' → ');
    expect(nodes.filter((node) => /Sort|Seq Scan/.test(node['Node Type'])), summary).toEqual([]);
    const read = (node: PlanNode) => node['Actual Rows'] * node['Actual Loops'] + (node['Rows Removed by Filter'] ?? 0);
    const messagesScan = nodes.find((node) => node['Index Name'] === 'chat_messages_pkey');
    expect(messagesScan, summary).toBeDefined();
    expect(read(messagesScan!), summary).toBeLessThanOrEqual(21);
    const sessionScans = nodes.filter((node) => /Scan/.test(node['Node Type']) && node !== messagesScan);
    expect(sessionScans.map((node) => node['Index Name']), summary).toEqual(['chat_sessions_pkey']);
    expect(read(sessionScans[0]!), summary).toBeLessThanOrEqual(1);
  };

  beforeAll(async () => {
    longSession = (await messages.session({ user_id: 'plan_user' })).id;
    await withClient(service.databaseUrl, async (client) => {
      // The long session, and 5,000 others of 10 messages each around it.
      await client.query(`INSERT INTO chat_sessions (user_id) SELECT 'plan_other' FROM generate_series(1, 5000)`);
      await client.query(
        `INSERT INTO chat_messages (session_id, seq, id, role, content, content_bytes, status)
         SELECT $1, i, gen_random_uuid(), 'user', jsonb_build_array(jsonb_build_object('type', 'text', 'text', i::text)), 30, 'completed'
         FROM generate_series(1, $2::int) AS i`,
        [longSession, LONG],
      );
      await client.query(
        `INSERT INTO chat_messages (session_id, seq, id, role, content, content_bytes, status)
         SELECT s.id, i, gen_random_uuid(), 'user', '[{"type":"text","text":"x"}]', 27, 'completed'
         FROM chat_sessions s, generate_series(1, 10) AS i WHERE s.user_id = 'plan_other'`,
      );
      // Each session one run (run 1, as sql/1764064800007 numbers the runs of linear sessions).
      await client.query(
        `UPDATE chat_sessions s SET message_count = $2, last_seq = $2, current_seq = $2, current_run_id = 1,
           current_message_id = (SELECT id FROM chat_messages WHERE session_id = $1 AND seq = $2) WHERE id = $1`,
        [longSession, LONG],
      );
      await client.query(`UPDATE chat_messages SET starts_run = true WHERE seq = 1`);
      await client.query(`INSERT INTO chat_message_runs (session_id, run_id, path_runs, path_seqs)
        SELECT DISTINCT session_id, 1, '{}'::int[], '{}'::int[] FROM chat_messages ON CONFLICT DO NOTHING`);
      await client.query('ANALYZE chat_messages');
      await client.query('ANALYZE chat_sessions');
    });
  }, 120_000);

  it('the newest page (desc, no bound)', async () => {
    expectRangeScan(await withClient(service.databaseUrl, (client) => explainPage(client, '', 'DESC', [longSession, 'plan_user'])));
  });

  it('the oldest page (asc, no bound)', async () => {
    expectRangeScan(await withClient(service.databaseUrl, (client) => explainPage(client, '', 'ASC', [longSession, 'plan_user'])));
  });

  it('a page deep in the session (before_seq in the middle)', async () => {
    expectRangeScan(
      await withClient(service.databaseUrl, (client) => explainPage(client, 'AND m.seq < $3', 'DESC', [longSession, 'plan_user', LONG / 2])),
    );
  });

  it('a page deep in the session (after_seq, asc)', async () => {
    expectRangeScan(
      await withClient(service.databaseUrl, (client) => explainPage(client, 'AND m.seq > $3', 'ASC', [longSession, 'plan_user', LONG - 500])),
    );
  });

  it('the API answers such pages: the last page of 50,000 messages by after_seq', async () => {
    const response = await messages.list(longSession, `order=asc&after_seq=${LONG - 3}&include_total=true`);
    expect(seqs(response)).toEqual([LONG - 2, LONG - 1, LONG]);
    expect(response.body).toMatchObject({ has_more: false, total: LONG });
  });
});
