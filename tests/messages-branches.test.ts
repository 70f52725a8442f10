/**
 * Branching: edits and regenerations (SPEC.md "Branching"): parent_id on appends, the session's
 * current_message_id, listings of a branch with sibling_count / sibling_index, leaf_id, view=all,
 * total, paging, deletes inside branches, and a branch page's cost (EXPLAIN).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { messagesOf, text, user } from './support/messages.ts';
import { expectInvalid } from './support/problems.ts';
import { useTestService } from './support/service.ts';
import { branchPageStatement } from '../src/messages/service.ts';

type PlanNode = {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
};
const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

const service = useTestService();
const messages = messagesOf(service);
const assistant = (value: string, extra: Record<string, unknown> = {}) => ({ role: 'assistant', content: [text(value)], ...extra });
const texts = (response: { body: { items: { content: { text?: string }[] }[] } }) =>
  response.body.items.map((item) => item.content[0]!.text);
const sibling = (item: { sibling_index: number; sibling_count: number }) => `${item.sibling_index}/${item.sibling_count}`;

/** u1 → a1 → u2 → a2, linear. */
async function conversation() {
  const session = await messages.session();
  const items = await messages.appendOk(session.id, [user('u1'), assistant('a1'), user('u2'), assistant('a2')]);
  return { session, ids: items.map((item: { id: string }) => item.id) as string[] };
}

describe('appending with parent_id', () => {
  it('a linear chat is listed whole, each message 1 / 1', async () => {
    const { session } = await conversation();
    const response = await messages.list(session.id, 'order=asc');
    expect(texts(response)).toEqual(['u1', 'a1', 'u2', 'a2']);
    expect(response.body.items.map(sibling)).toEqual(['1/1', '1/1', '1/1', '1/1']);
  });

  it('regenerating an answer (the old answer\'s parent_id) makes the new answer current, 2 / 2', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    const [regenerated] = await messages.appendOk(session.id, [assistant('a2 again', { parent_id: ids[2] })]);
    expect(regenerated.parent_id).toBe(ids[2]);
    const response = await messages.list(session.id, 'order=asc');
    expect(texts(response)).toEqual(['u1', 'a1', 'u2', 'a2 again']);
    expect(response.body.items.map(sibling)).toEqual(['1/1', '1/1', '1/1', '2/2']);
    expect((await messages.getSession(session.id)).body.current_message_id).toBe(regenerated.id);
  });

  it('editing a user message and answering it lists the new branch; the old one is kept', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    await messages.appendOk(session.id, [user('u2 edited', { parent_id: ids[1] }), assistant('a2 for the edit')]);
    expect(texts(await messages.list(session.id, 'order=asc'))).toEqual(['u1', 'a1', 'u2 edited', 'a2 for the edit']);
    const all = await messages.list(session.id, 'view=all&order=asc');
    expect(texts(all)).toEqual(['u1', 'a1', 'u2', 'a2', 'u2 edited', 'a2 for the edit']);
  });

  it('three answers to one question are 1 / 3, 2 / 3 and 3 / 3', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    const [second] = await messages.appendOk(session.id, [assistant('a2 b', { parent_id: ids[2] })]);
    const [third] = await messages.appendOk(session.id, [assistant('a2 c', { parent_id: ids[2] })]);
    for (const [leaf, expected] of [[ids[3], '1/3'], [second.id, '2/3'], [third.id, '3/3']] as const) {
      const response = await messages.list(session.id, `order=asc&leaf_id=${leaf}`);
      expect(response.body.items.at(-1).id).toBe(leaf);
      expect(sibling(response.body.items.at(-1))).toBe(expected);
    }
  });

  it('the default parent of an append after a regeneration is the new answer', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    const [regenerated] = await messages.appendOk(session.id, [assistant('a2 again', { parent_id: ids[2] })]);
    const [next] = await messages.appendOk(session.id, [user('u3')]);
    expect(next.parent_id).toBe(regenerated.id);
  });

  it('explicit null starts a new root; roots are siblings of one another', async () => {
    const { session } = await conversation();
    const [root] = await messages.appendOk(session.id, [user('u1 edited', { parent_id: null })]);
    expect(root.parent_id).toBeNull();
    const response = await messages.list(session.id);
    expect(texts(response)).toEqual(['u1 edited']);
    expect(response.body.items.map(sibling)).toEqual(['2/2']);
  });

  it('a later message of a batch may start a branch of its own', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    const items = await messages.appendOk(session.id, [user('u3'), assistant('a1 b', { parent_id: ids[0] }), user('u2 b')]);
    expect(items.map((item: { parent_id: string }) => item.parent_id)).toEqual([ids[3], ids[0], items[1].id]);
    expect(texts(await messages.list(session.id, 'order=asc'))).toEqual(['u1', 'a1 b', 'u2 b']);
    expect(texts(await messages.list(session.id, `order=asc&leaf_id=${items[0].id}`))).toEqual(['u1', 'a1', 'u2', 'a2', 'u3']);
  });

  it('a parent_id of another session is a 400 naming it, and nothing is appended', async () => {
    const { session } = await conversation();
    const other = await conversation();
    const response = await messages.append(session.id, [user('x'), user('y', { parent_id: other.ids[0] })]);
    expectInvalid(response, { in: 'body', pointer: '/messages/1/parent_id' });
    expect((await messages.getSession(session.id)).body.message_count).toBe(4);
  });

  it('an unknown parent_id is a 400 naming it', async () => {
    const { session } = await conversation();
    expectInvalid(await messages.append(session.id, [user('x', { parent_id: randomUUID() })]), { in: 'body', pointer: '/messages/0/parent_id' });
  });

  it('a malformed parent_id is a 400 naming it', async () => {
    const { session } = await conversation();
    expectInvalid(await messages.append(session.id, [user('x', { parent_id: 'not-a-uuid' })]), { in: 'body', pointer: '/messages/0/parent_id' });
  });

  it('concurrent appends naming parents get distinct, gap-free seqs and each its parent', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => messages.append(session.id, [assistant(`r${i}`, { parent_id: ids[i % 4] })])),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(12).fill(201));
    const seqs = responses.map((response) => response.body.items[0].seq).sort((a: number, b: number) => a - b);
    expect(seqs).toEqual(Array.from({ length: 12 }, (_, i) => 5 + i));
    for (const [i, response] of responses.entries()) expect(response.body.items[0].parent_id).toBe(ids[i % 4]);
    for (const response of responses) {
      const branch = await messages.list(session.id, `order=asc&leaf_id=${response.body.items[0].id}`);
      const parentOf = (index: number) => branch.body.items[index].parent_id;
      branch.body.items.forEach((_: unknown, index: number) => index > 0 && expect(parentOf(index)).toBe(branch.body.items[index - 1].id));
    }
  });
});

describe('switching branches (PATCH current_message_id)', () => {
  it('makes the path to that message the current branch, and the next append follows it', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    await messages.appendOk(session.id, [assistant('a2 again', { parent_id: ids[2] })]);
    const patched = await service.api.patch(`/sessions/${session.id}`, { current_message_id: ids[3] });
    expect(patched.status).toBe(200);
    expect(patched.body.current_message_id).toBe(ids[3]);
    expect(texts(await messages.list(session.id, 'order=asc'))).toEqual(['u1', 'a1', 'u2', 'a2']);
    const [next] = await messages.appendOk(session.id, [user('u3')]);
    expect(next.parent_id).toBe(ids[3]);
    expect(texts(await messages.list(session.id, 'order=asc'))).toEqual(['u1', 'a1', 'u2', 'a2', 'u3']);
  });

  it('changes the ETag; If-Match with the old one is a 412, with the current one a 200', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    const before = await messages.getSession(session.id);
    const switched = await service.api.patch(`/sessions/${session.id}`, { current_message_id: ids[1] }, { headers: { 'If-Match': before.headers.get('etag')! } });
    expect(switched.status).toBe(200);
    expect(switched.headers.get('etag')).not.toBe(before.headers.get('etag'));
    const stale = await service.api.patch(`/sessions/${session.id}`, { current_message_id: ids[2] }, { headers: { 'If-Match': before.headers.get('etag')! } });
    expect(stale.status).toBe(412);
  });

  it('a message of another session is a 400 naming current_message_id', async () => {
    const { session } = await conversation();
    const other = await conversation();
    expectInvalid(await service.api.patch(`/sessions/${session.id}`, { current_message_id: other.ids[0] }), { in: 'body', pointer: '/current_message_id' });
  });
});

describe('listing a branch', () => {
  it('leaf_id naming no message of the session is a 400 naming it', async () => {
    const { session } = await conversation();
    expectInvalid(await messages.list(session.id, `leaf_id=${randomUUID()}`), { in: 'query', pointer: '/leaf_id' });
  });

  it('leaf_id with view=all is a 400 naming leaf_id', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    expectInvalid(await messages.list(session.id, `view=all&leaf_id=${ids[0]}`), { in: 'query', pointer: '/leaf_id' });
  });

  it('view=all takes order and its items carry no sibling fields', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    await messages.appendOk(session.id, [assistant('a2 again', { parent_id: ids[2] })]);
    const response = await messages.list(session.id, 'view=all&order=desc');
    expect(texts(response)).toEqual(['a2 again', 'a2', 'u2', 'a1', 'u1']);
    expect(response.body.items[0].sibling_count).toBeUndefined();
  });

  it('total counts the branch, the branch with role, or everything', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    await messages.appendOk(session.id, [user('u2 b', { parent_id: ids[1] }), assistant('a2 b'), user('u3 b')]);
    expect((await messages.list(session.id, 'include_total=true&limit=1')).body.total).toBe(5);
    expect((await messages.list(session.id, 'include_total=true&role=user')).body.total).toBe(3);
    expect((await messages.list(session.id, 'include_total=true&view=all')).body.total).toBe(7);
    expect((await messages.list(session.id, `include_total=true&leaf_id=${ids[3]}`)).body.total).toBe(4);
  });

  it('pages of a branch in both orders, across its segments', async () => {
    const session = await messages.session();
    // Ten branches, each a regeneration of the previous one's last answer followed by two more messages.
    let items = await messages.appendOk(session.id, [user('q0'), assistant('a0')]);
    const expected = ['q0'];
    for (let b = 1; b <= 10; b++) {
      items = await messages.appendOk(session.id, [assistant(`a${b - 1}'`, { parent_id: items.at(-1).parent_id }), user(`q${b}`), assistant(`a${b}`)]);
      expected.push(`a${b - 1}'`, `q${b}`);
    }
    expected.push('a10');
    const collect = async (order: 'asc' | 'desc') => {
      const seen: string[] = [];
      let bound = '';
      for (;;) {
        const response = await messages.list(session.id, `order=${order}&limit=4${bound}`);
        seen.push(...(texts(response) as string[]));
        if (!response.body.has_more) return seen;
        const last = response.body.items.at(-1).seq;
        bound = order === 'asc' ? `&after_seq=${last}` : `&before_seq=${last}`;
      }
    };
    expect(await collect('asc')).toEqual(expected);
    expect(await collect('desc')).toEqual([...expected].reverse());
  });
});

describe('deleting inside branches', () => {
  it('deleting a message with branches below it keeps every branch connected', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    const [b] = await messages.appendOk(session.id, [assistant('a2 b', { parent_id: ids[2] })]);
    expect((await messages.remove(session.id, ids[2])).status).toBe(204);
    expect(texts(await messages.list(session.id, 'order=asc'))).toEqual(['u1', 'a1', 'a2 b']);
    const both = await messages.list(session.id, `order=asc&leaf_id=${ids[3]}`);
    expect(texts(both)).toEqual(['u1', 'a1', 'a2']);
    expect(both.body.items.at(-1).parent_id).toBe(ids[1]);
    expect(sibling(both.body.items.at(-1))).toBe('1/2');
    expect((await messages.get(session.id, b.id)).body.parent_id).toBe(ids[1]);
  });

  it('deleting the current leaf makes its parent current; the next append follows it', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    await messages.remove(session.id, ids[3]);
    expect((await messages.getSession(session.id)).body.current_message_id).toBe(ids[2]);
    const [next] = await messages.appendOk(session.id, [assistant('a2 again')]);
    expect(next.parent_id).toBe(ids[2]);
    expect(texts(await messages.list(session.id, 'order=asc'))).toEqual(['u1', 'a1', 'u2', 'a2 again']);
  });

  it('deleting another message leaves the current leaf as it is', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    await messages.remove(session.id, ids[1]);
    expect((await messages.getSession(session.id)).body.current_message_id).toBe(ids[3]);
  });

  it('deleting the only root of the current branch leaves no current leaf (null)', async () => {
    const session = await messages.session();
    const [only] = await messages.appendOk(session.id, [user('only')]);
    await messages.remove(session.id, only.id);
    expect((await messages.getSession(session.id)).body.current_message_id).toBeNull();
    const [next] = await messages.appendOk(session.id, [user('again')]);
    expect(next.parent_id).toBeNull();
  });

  it('deleting the first message of a branch makes its successor a sibling of the others', async () => {
    const { session, ids: found } = await conversation();
    const ids = found as [string, string, string, string];
    const [b1, b2] = await messages.appendOk(session.id, [assistant('a1 b', { parent_id: ids[0] }), user('u2 b')]);
    await messages.remove(session.id, b1.id);
    const response = await messages.list(session.id, 'order=asc');
    expect(texts(response)).toEqual(['u1', 'u2 b']);
    expect(response.body.items.map(sibling)).toEqual(['1/1', '2/2']);
    expect(response.body.items[1].id).toBe(b2.id);
  });
});

describe('cost of a branch page', () => {
  it('a page of 50 of the current branch of a session with 200 branches reads O(limit) rows', async () => {
    const session = await messages.session();
    let items = await messages.appendOk(session.id, [user('q0'), assistant('a0')]);
    for (let b = 1; b <= 200; b++) {
      items = await messages.appendOk(session.id, [assistant(`a${b - 1}'`, { parent_id: items.at(-1).parent_id }), user(`q${b}`), assistant(`a${b}`)]);
    }
    const response = await messages.list(session.id, 'limit=50');
    expect(response.body.items).toHaveLength(50);
    const statement = branchPageStatement(session.id, { limit: 50, order: 'desc' }, undefined, 600);
    await withClient(service.databaseUrl, async (client) => {
      await client.query('VACUUM ANALYZE chat_messages');
      const result = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.sql.replace(/\$slonik_(\d+)/g, "$$$1")}`, statement.values as unknown[]);
      const plan = (result.rows[0]['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan;
      const nodes = nodesOf(plan);
      expect(nodes.filter((node) => node['Node Type'] === 'Seq Scan')).toEqual([]);
      // The branch holds 401 messages in 201 segments: a page counts and reads ~51 rows each time,
      // and probes siblings once or twice per item, never the whole branch or session (603 rows).
      const read = nodes
        .filter((node) => /Scan/.test(node['Node Type']) && node['Relation Name'] === 'chat_messages')
        .reduce((sum, node) => sum + node['Actual Rows'] * node['Actual Loops'] + (node['Rows Removed by Filter'] ?? 0), 0);
      expect(read).toBeGreaterThanOrEqual(100);
      expect(read).toBeLessThan(300);
    });
  });
});
