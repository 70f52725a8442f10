/**
 * POST /sessions/{id}/fork (SPEC.md, "Fork, export and import"): a new session for the same user
 * holding copies of the branch from the root to message_id (default: the current leaf), new ids,
 * seq 1…n, the source's title unless given, its metadata plus forked_from; one transaction.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { expectProblem, messagesOf, streaming, text, user } from './support/messages.ts';
import { startTestService, useTestService } from './support/service.ts';
import { HS_SECRET, hsToken } from './support/tokens.ts';

const service = useTestService();
const messages = messagesOf(service);

const fork = (id: string, body: unknown = {}, headers: Record<string, string> = {}) =>
  service.api.post(`/sessions/${id}/fork`, body, { headers });

async function forkOk(id: string, body: unknown = {}) {
  const response = await fork(id, body);
  expect(response.status, response.text.slice(0, 500)).toBe(201);
  return response;
}

async function allMessages(sessionId: string) {
  return (await messages.list(sessionId, 'order=asc&limit=100')).body.items as any[];
}

/** A second answer to `parentId` (a regeneration), stored as branching stores it. */
async function regenerate(sessionId: string, parentId: string, seq: number, answer: string) {
  const id = randomUUID();
  await withClient(service.databaseUrl, (client) =>
    client.query(
      `INSERT INTO chat_messages (session_id, seq, id, parent_id, role, content, content_bytes, status)
       VALUES ($1, $2, $3, $4, 'assistant', $5, 40, 'completed')`,
      [sessionId, seq, id, parentId, JSON.stringify([text(answer)])],
    ),
  );
  return id;
}

describe('fork', () => {
  it('copies the current branch into a new session of the same user: 201, Location, ETag, new ids, seq 1…n', async () => {
    const source = await messages.session({ title: 'Source', metadata: { model: 'gpt-4o' } });
    const original = await messages.appendOk(source.id, [user('q'), { role: 'assistant', model: 'm', content: [text('a')] }]);
    const response = await forkOk(source.id);
    expect(response.headers.get('location')).toBe(`/api/v1/sessions/${response.body.id}`);
    expect(response.headers.get('etag')).toBe((await messages.getSession(response.body.id)).headers.get('etag'));
    expect(response.body).toMatchObject({ user_id: source.user_id, title: 'Source', message_count: 2, status: 'active', is_active: true });
    const copies = await allMessages(response.body.id);
    expect(copies.map((message) => message.seq)).toEqual([1, 2]);
    expect(copies.map((message) => message.id)).not.toContain(original[0].id);
    expect(copies.map(({ role, content, model }) => ({ role, content, model }))).toEqual(
      original.map(({ role, content, model }) => ({ role, content, model })),
    );
    expect(copies[1].parent_id).toBe(copies[0].id);
    expect(copies[0].parent_id).toBeNull();
  });

  it("its metadata is the source's plus forked_from {session_id, message_id}", async () => {
    const source = await messages.session({ metadata: { model: 'gpt-4o' } });
    const [, last] = await messages.appendOk(source.id, [user('q'), user('r')]);
    const response = await forkOk(source.id);
    expect(response.body.metadata).toEqual({ model: 'gpt-4o', forked_from: { session_id: source.id, message_id: last.id } });
  });

  it('a fork of a fork names its own source in forked_from', async () => {
    const source = await messages.session();
    await messages.appendOk(source.id, [user('q')]);
    const first = await forkOk(source.id);
    const second = await forkOk(first.body.id);
    expect(second.body.metadata.forked_from.session_id).toBe(first.body.id);
  });

  it('up to message_id: the branch from the root to it, nothing after', async () => {
    const source = await messages.session();
    const [, a] = await messages.appendOk(source.id, [user('q'), { role: 'assistant', content: [text('a')] }, user('later')]);
    const response = await forkOk(source.id, { message_id: a.id });
    expect((await allMessages(response.body.id)).map((message) => message.content[0].text)).toEqual(['q', 'a']);
    expect(response.body.metadata.forked_from).toEqual({ session_id: source.id, message_id: a.id });
  });

  it('of a branched session, the branch that ends at message_id only', async () => {
    const source = await messages.session();
    const [q] = await messages.appendOk(source.id, [user('q'), { role: 'assistant', content: [text('first answer')] }]);
    const second = await regenerate(source.id, q.id, 3, 'second answer');
    const response = await forkOk(source.id, { message_id: second });
    expect((await allMessages(response.body.id)).map((message) => message.content[0].text)).toEqual(['q', 'second answer']);
  });

  it('takes the given title (trimmed), or null for untitled', async () => {
    const source = await messages.session({ title: 'Old' });
    expect((await forkOk(source.id, { title: '  New  ' })).body.title).toBe('New');
    expect((await forkOk(source.id, { title: null })).body.title).toBeNull();
  });

  it('copies status, finish reason, usage and metadata of each message; a timed-out answer as incomplete', async () => {
    const source = await messages.session();
    const [answer, streamingOne] = await messages.appendOk(source.id, [
      { role: 'assistant', content: [text('a')], finish_reason: 'length', usage: { input_tokens: 3, output_tokens: 4 }, metadata: { r: 1 } },
      streaming([text('half')]),
    ]);
    await withClient(service.databaseUrl, (client) =>
      client.query(`UPDATE chat_messages SET updated_at = now() - interval '1 day' WHERE id = $1`, [streamingOne.id]),
    );
    const copies = await allMessages((await forkOk(source.id)).body.id);
    expect(copies[0]).toMatchObject({ finish_reason: 'length', usage: answer.usage, metadata: { r: 1 }, status: 'completed' });
    expect(copies[1]).toMatchObject({ status: 'incomplete', finish_reason: 'error', content: [text('half')] });
  });

  it('a session with no messages forks into an empty one', async () => {
    const source = await messages.session();
    const response = await forkOk(source.id);
    expect(response.body).toMatchObject({ message_count: 0, metadata: { forked_from: { session_id: source.id, message_id: null } } });
  });

  it('a closed or soft-deleted source may be forked (it reads), into an active session', async () => {
    const source = await messages.session();
    await messages.appendOk(source.id, [user('q')]);
    await service.api.patch(`/sessions/${source.id}`, { status: 'closed' });
    await service.api.delete(`/sessions/${source.id}`);
    const response = await forkOk(source.id);
    expect(response.body).toMatchObject({ status: 'active', is_active: true, message_count: 1 });
  });

  it('copies more than one batch (250 messages), in order', async () => {
    const source = await messages.session();
    for (let batch = 0; batch < 3; batch++) {
      const size = batch === 2 ? 50 : 100;
      await messages.appendOk(source.id, Array.from({ length: size }, (_, i) => user(`m${batch * 100 + i}`)));
    }
    const response = await forkOk(source.id);
    expect(response.body.message_count).toBe(250);
    const page = await messages.list(response.body.id, 'order=desc&limit=1');
    expect(page.body.items[0]).toMatchObject({ seq: 250, content: [text('m249')] });
  });

  it('leaves the source as it was', async () => {
    const source = await messages.session();
    await messages.appendOk(source.id, [user('q')]);
    const before = await messages.getSession(source.id);
    await forkOk(source.id);
    const after = await messages.getSession(source.id);
    expect(after.body).toEqual(before.body);
    expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
  });
});

describe('fork: what it refuses', () => {
  it('an unknown session is a 404', async () => {
    expectProblem(await fork(randomUUID()), 404, 'not-found');
  });

  it("a message_id of another session is a 400 naming message_id, and nothing is created", async () => {
    const source = await messages.session();
    const other = await messages.session();
    const [foreign] = await messages.appendOk(other.id, [user('elsewhere')]);
    const response = await fork(source.id, { message_id: foreign.id });
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ in: 'body', pointer: '/message_id' });
    const listed = await service.api.get(`/sessions?user_id=${source.user_id}`);
    expect(listed.body.items).toHaveLength(1);
  });

  it('an unknown message_id is a 400 naming it', async () => {
    const source = await messages.session();
    const response = await fork(source.id, { message_id: randomUUID() });
    expect(response.body.errors[0]).toMatchObject({ pointer: '/message_id' });
  });

  it('an unknown field is a 400 naming it', async () => {
    const source = await messages.session();
    const response = await fork(source.id, { messages: [] });
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ pointer: '/messages' });
  });

  it('a source with 50 metadata keys has no room for forked_from: a 422 metadata-full', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    const source = await messages.session({ metadata });
    expectProblem(await fork(source.id), 422, 'metadata-full');
  });

  it('a source whose metadata forked_from would push past 8 KiB is a 422 metadata-full', async () => {
    const source = await messages.session({ metadata: { big: 'x'.repeat(8 * 1024 - 20) } });
    expectProblem(await fork(source.id), 422, 'metadata-full');
  });

  it('a source already forked (forked_from replaced) at 50 keys still forks', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, i]));
    const source = await messages.session({ metadata: { ...metadata, forked_from: { session_id: randomUUID(), message_id: null } } });
    expect((await fork(source.id)).status).toBe(201);
  });
});

describe('fork: Idempotency-Key', () => {
  it('the same key and body replay the first fork and create nothing more', async () => {
    const source = await messages.session();
    await messages.appendOk(source.id, [user('q')]);
    const key = randomUUID();
    const first = await fork(source.id, { title: 'F' }, { 'Idempotency-Key': key });
    const second = await fork(source.id, { title: 'F' }, { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
  });

  it('the same key on another session is a 422', async () => {
    const [a, b] = [await messages.session(), await messages.session()];
    const key = randomUUID();
    await fork(a.id, {}, { 'Idempotency-Key': key });
    expectProblem(await fork(b.id, {}, { 'Idempotency-Key': key }), 422, 'idempotency-key-reused');
  });
});

describe('fork: isolation', () => {
  it("another user's session is a 404; the fork is the owner's", async () => {
    const secured = await startTestService({ AUTH_MODE: 'jwt', JWT_SECRET: HS_SECRET });
    try {
      const alice = { Authorization: `Bearer ${await hsToken({ sub: 'alice' })}` };
      const bob = { Authorization: `Bearer ${await hsToken({ sub: 'bob' })}` };
      const created = await secured.api.post('/sessions', {}, { headers: alice });
      expect((await secured.api.post(`/sessions/${created.body.id}/fork`, {}, { headers: bob })).status).toBe(404);
      const forked = await secured.api.post(`/sessions/${created.body.id}/fork`, {}, { headers: alice });
      expect(forked.body.user_id).toBe('alice');
    } finally {
      await secured.stop();
    }
  });
});
