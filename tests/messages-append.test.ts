/**
 * POST /sessions/{id}/messages (SPEC.md, "Messages"): what an append stores and what it does to
 * its session, batches all or none, and appends racing each other.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { expectProblem, messagesOf, storedMessages, streaming, text, user } from './support/messages.ts';
import { expectInvalid } from './support/problems.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();
const messages = messagesOf(service);

const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('appending one message', () => {
  it('answers 201 with the message as stored: seq 1, no parent, the defaults', async () => {
    const session = await messages.session();
    const response = await messages.append(session.id, [user('What did we decide?')]);
    expect(response.status).toBe(201);
    const [message] = response.body.items;
    expect(response.body.items).toHaveLength(1);
    expect(message).toEqual({
      id: expect.any(String),
      session_id: session.id,
      seq: 1,
      parent_id: null,
      role: 'user',
      content: [{ type: 'text', text: 'What did we decide?' }],
      status: 'completed',
      model: null,
      finish_reason: null,
      usage: null,
      metadata: {},
      created_at: expect.stringMatching(iso),
      updated_at: expect.stringMatching(iso),
    });
    expect(message.updated_at).toBe(message.created_at);
  });

  it('keeps every field it was given', async () => {
    const session = await messages.session();
    const given = {
      role: 'assistant',
      content: [text('Approved on 12 September.')],
      status: 'incomplete',
      model: 'gpt-4o',
      finish_reason: 'length',
      usage: { input_tokens: 812, output_tokens: 164, cached_input_tokens: 3, reasoning_tokens: 0 },
      metadata: { trace: 'abc', nested: { n: 1 } },
    };
    const [message] = await messages.appendOk(session.id, [given]);
    expect(message).toMatchObject(given);
    expect((await messages.get(session.id, message.id)).body).toEqual(message);
  });

  it('every role is accepted', async () => {
    const session = await messages.session();
    const roles = ['system', 'developer', 'user', 'assistant', 'tool'];
    const items = await messages.appendOk(session.id, roles.map((role) => ({ role, content: [text(role)] })));
    expect(items.map((item) => item.role)).toEqual(roles);
  });

  it('an unknown role is a 400 naming /messages/0/role', async () => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, [{ role: 'robot', content: [text('x')] }]), { in: 'body', pointer: '/messages/0/role' });
  });

  it('an unknown field of a message is a 400 naming it', async () => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, [user('x', { seq: 7 })]), { in: 'body', pointer: '/messages/0/seq' });
  });

  it('the ETag answered is the session\'s new ETag', async () => {
    const session = await messages.session();
    const before = await messages.getSession(session.id);
    const response = await messages.append(session.id, [user()]);
    const after = await messages.getSession(session.id);
    expect(response.headers.get('etag')).not.toBe(before.headers.get('etag'));
    expect(response.headers.get('etag')).toBe(after.headers.get('etag'));
  });

  it("moves the session's message_count, last_message_at and updated_at", async () => {
    const session = await messages.session();
    const before = (await messages.getSession(session.id)).body;
    expect(before.message_count).toBe(0);
    expect(before.last_message_at).toBeNull();
    await sleep(5);
    const [message] = await messages.appendOk(session.id, [user()]);
    const after = (await messages.getSession(session.id)).body;
    expect(after.message_count).toBe(1);
    expect(after.last_message_at).toBe(message.created_at);
    expect(Date.parse(after.updated_at)).toBeGreaterThan(Date.parse(before.updated_at));
  });

  it('the appended session comes first in sort=-updated_at', async () => {
    const owner = `msg_${randomUUID()}`;
    const older = await messages.session({ user_id: owner });
    await messages.session({ user_id: owner });
    await sleep(5);
    await messages.appendOk(older.id, [user()]);
    const list = await service.api.get(`/sessions?user_id=${owner}&sort=-updated_at`);
    expect(list.body.items[0].id).toBe(older.id);
  });

  it('the next append follows the newest message', async () => {
    const session = await messages.session();
    const [first] = await messages.appendOk(session.id, [user('one')]);
    const [second] = await messages.appendOk(session.id, [user('two')]);
    expect(second.seq).toBe(2);
    expect(second.parent_id).toBe(first.id);
  });
});

describe('appending a batch', () => {
  it('takes seqs 1..n in the given order, each following the one before', async () => {
    const session = await messages.session();
    const items = await messages.appendOk(session.id, Array.from({ length: 5 }, (_, i) => user(`m${i}`)));
    expect(items.map((item) => item.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(items.map((item) => item.content[0].text)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(items[0].parent_id).toBeNull();
    for (let i = 1; i < items.length; i++) expect(items[i].parent_id).toBe(items[i - 1].id);
    expect(new Set(items.map((item) => item.id)).size).toBe(5);
  });

  it('a second batch continues the seqs and the chain', async () => {
    const session = await messages.session();
    const first = await messages.appendOk(session.id, [user('a'), user('b')]);
    const second = await messages.appendOk(session.id, [user('c'), user('d')]);
    expect(second.map((item) => item.seq)).toEqual([3, 4]);
    expect(second[0].parent_id).toBe(first[1].id);
    expect((await messages.getSession(session.id)).body.message_count).toBe(4);
  });

  it('a batch is one write to the session: its ETag moves once, its count by n', async () => {
    const session = await messages.session();
    const before = await messages.getSession(session.id);
    const response = await messages.append(session.id, [user('a'), user('b'), user('c')]);
    const after = await messages.getSession(session.id);
    expect(after.body.message_count).toBe(3);
    expect(Number(JSON.parse(after.headers.get('etag')!))).toBe(Number(JSON.parse(before.headers.get('etag')!)) + 1);
    expect(response.headers.get('etag')).toBe(after.headers.get('etag'));
    expect(after.body.last_message_at).toBe(response.body.items[2].created_at);
  });

  it('100 messages in a batch are accepted', async () => {
    const session = await messages.session();
    const items = await messages.appendOk(session.id, Array.from({ length: 100 }, (_, i) => user(`m${i}`)));
    expect(items.map((item) => item.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('101 messages in a batch are a 400 naming /messages, and nothing is appended', async () => {
    const session = await messages.session();
    const response = await messages.append(session.id, Array.from({ length: 101 }, () => user()));
    expectInvalid(response, { in: 'body', pointer: '/messages', message: /100/ });
    expect(await storedMessages(service, session.id)).toEqual([]);
  });

  it('an empty batch is a 400 naming /messages', async () => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, []), { in: 'body', pointer: '/messages' });
  });

  it('a batch with one invalid message appends none of them', async () => {
    const session = await messages.session();
    const response = await messages.append(session.id, [user('ok'), user('ok'), { role: 'user', content: [{ type: 'text' }] }]);
    expectInvalid(response, { in: 'body', pointer: '/messages/2/content/0/text' });
    expect(await storedMessages(service, session.id)).toEqual([]);
    expect((await messages.getSession(session.id)).body.message_count).toBe(0);
  });

  it('a batch with one message over 1 MiB appends none of them', async () => {
    const session = await messages.session();
    const response = await messages.append(session.id, [user('ok'), user('x'.repeat(1024 * 1024))]);
    expectProblem(response, 413, 'content-too-large');
    expect(response.body.detail).toMatch(/messages\[1\]/);
    expect(await storedMessages(service, session.id)).toEqual([]);
  });
});

describe('status and content', () => {
  it('a completed message with no content part is a 400 naming /messages/0/content', async () => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, [{ role: 'user', content: [] }]), {
      in: 'body',
      pointer: '/messages/0/content',
      message: /at least 1/,
    });
  });

  it('an in_progress message may have no content yet', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming()]);
    expect(message.status).toBe('in_progress');
    expect(message.content).toEqual([]);
  });

  it.each(['incomplete', 'failed'])('a %s message may have no content', async (status) => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [{ role: 'assistant', status, content: [] }]);
    expect(message.status).toBe(status);
  });

  it('an unknown status is a 400 naming /messages/0/status', async () => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, [user('x', { status: 'done' })]), { in: 'body', pointer: '/messages/0/status' });
  });

  it('an unknown finish_reason is a 400 naming /messages/0/finish_reason', async () => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, [user('x', { finish_reason: 'bored' })]), {
      in: 'body',
      pointer: '/messages/0/finish_reason',
    });
  });

  it.each(['stop', 'length', 'tool_calls', 'content_filter', 'cancelled', 'error'])('finish_reason %s is kept', async (reason) => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [{ role: 'assistant', content: [text('x')], finish_reason: reason }]);
    expect(message.finish_reason).toBe(reason);
  });
});

describe('model', () => {
  it('200 characters are accepted', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [user('x', { model: 'm'.repeat(200) })]);
    expect(message.model).toBe('m'.repeat(200));
  });

  it.each([
    ['201 characters', 'm'.repeat(201)],
    ['an empty string', ''],
    ['a newline', 'gpt\n4o'],
    ['a tab', 'gpt\t4o'],
    ['DEL', 'gpt\u007f'],
    ['a C1 control', 'gpt\u0085'],
  ])('%s is a 400 naming /messages/0/model', async (_, model) => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, [user('x', { model })]), { in: 'body', pointer: '/messages/0/model' });
  });

  it('null is accepted', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [user('x', { model: null })]);
    expect(message.model).toBeNull();
  });
});

describe('usage', () => {
  const withUsage = (usage: unknown) => [{ role: 'assistant', content: [text('x')], usage }];

  it('2^31 − 1 tokens are accepted in every count', async () => {
    const session = await messages.session();
    const max = 2 ** 31 - 1;
    const usage = { input_tokens: max, output_tokens: max, cached_input_tokens: max, reasoning_tokens: max };
    const [message] = await messages.appendOk(session.id, withUsage(usage));
    expect(message.usage).toEqual(usage);
  });

  it.each([
    ['2^31', 2 ** 31],
    ['a negative count', -1],
    ['a fraction', 1.5],
    ['a string', '12'],
  ])('%s is a 400 naming the count', async (_, value) => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, withUsage({ input_tokens: 1, output_tokens: value })), {
      in: 'body',
      pointer: '/messages/0/usage/output_tokens',
    });
  });

  it('a missing output_tokens is a 400 naming /messages/0/usage', async () => {
    const session = await messages.session();
    const response = await messages.append(session.id, withUsage({ input_tokens: 1 }));
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body.errors)).toMatch(/output_tokens/);
  });

  it('an unknown count is a 400 naming it', async () => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, withUsage({ input_tokens: 1, output_tokens: 1, total_tokens: 2 })), {
      in: 'body',
      pointer: '/messages/0/usage/total_tokens',
    });
  });

  it('2.0 is an integer, stored as 2', async () => {
    const session = await messages.session();
    const response = await messages.appendRaw(
      session.id,
      '{"messages":[{"role":"assistant","content":[{"type":"text","text":"x"}],"usage":{"input_tokens":2.0,"output_tokens":0}}]}',
    );
    expect(response.status, response.text).toBe(201);
    expect(response.body.items[0].usage).toEqual({ input_tokens: 2, output_tokens: 0 });
  });
});

describe('concurrent appends', () => {
  it('20 concurrent appends to one session get 20 distinct, gap-free seqs and message_count 20', async () => {
    const session = await messages.session();
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => messages.append(session.id, [user(`racer ${i}`)])));
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    const seqs = responses.map((response) => response.body.items[0].seq as number).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await messages.getSession(session.id)).body.message_count).toBe(20);
    // Each follows the one appended just before it: the chain has no fork and no gap.
    const rows = await storedMessages(service, session.id);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.parent_id).toBe(rows[i - 1]!.id);
  });

  it('concurrent batches do not interleave: each batch holds consecutive seqs', async () => {
    const session = await messages.session();
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => messages.append(session.id, [user(`${i}a`), user(`${i}b`), user(`${i}c`)])),
    );
    const batches = responses.map((response) => response.body.items.map((item: { seq: number }) => item.seq));
    for (const seqs of batches) expect(seqs).toEqual([seqs[0], seqs[0] + 1, seqs[0] + 2]);
    expect(batches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  });

  it("an append waits for another session's lock no longer than its own: appends to other sessions proceed", async () => {
    const locked = await messages.session();
    const free = await messages.session();
    await withClient(service.databaseUrl, async (client) => {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM chat_sessions WHERE id = $1 FOR UPDATE', [locked.id]);
      let lockedDone = false;
      const waiting = messages.append(locked.id, [user('waits')]).then((response) => {
        lockedDone = true;
        return response;
      });
      const started = Date.now();
      const other = await messages.append(free.id, [user('does not wait')]);
      expect(other.status).toBe(201);
      expect(Date.now() - started).toBeLessThan(2000);
      await sleep(200);
      expect(lockedDone).toBe(false);
      await client.query('COMMIT');
      expect((await waiting).status).toBe(201);
    });
  });
});

describe('the session addressed', () => {
  it('an unknown session is a 404', async () => {
    expectProblem(await messages.append(randomUUID(), [user()]), 404, 'not-found');
  });

  it('a malformed session id is a 400 naming the path parameter', async () => {
    expectInvalid(await messages.append('not-a-uuid', [user()]), { in: 'path', pointer: '/id' });
  });
});
