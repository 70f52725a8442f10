/**
 * DELETE /sessions/{id}/messages/{message_id} (SPEC.md, "Endpoints"): gone for good, its children
 * re-linked, seqs never reused, the session's counters moved back; and the sessions that take no
 * message writes (closed, soft-deleted), and what deleting a session does to its messages.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { expectProblem, messagesOf, storedMessages, streaming, text, user } from './support/messages.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();
const messages = messagesOf(service);

async function conversation(n = 4) {
  const session = await messages.session();
  const items = await messages.appendOk(session.id, Array.from({ length: n }, (_, i) => user(`m${i + 1}`)));
  return { session, items };
}
const rowCount = (sessionId: string) =>
  withClient(service.databaseUrl, async (client) =>
    Number((await client.query('SELECT count(*) AS n FROM chat_messages WHERE session_id = $1', [sessionId])).rows[0].n),
  );

describe('deleting a message', () => {
  it('is a 204 with no body, and the message is gone (404)', async () => {
    const { session, items } = await conversation();
    const response = await messages.remove(session.id, items[1].id);
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expectProblem(await messages.get(session.id, items[1].id), 404, 'not-found');
    expect((await storedMessages(service, session.id)).map((row) => row.seq)).toEqual([1, 3, 4]);
  });

  it('the message that followed it now follows its parent', async () => {
    const { session, items } = await conversation();
    await messages.remove(session.id, items[1].id);
    expect((await messages.get(session.id, items[2].id)).body.parent_id).toBe(items[0].id);
  });

  it('deleting the first message leaves its child with no parent', async () => {
    const { session, items } = await conversation();
    await messages.remove(session.id, items[0].id);
    expect((await messages.get(session.id, items[1].id)).body.parent_id).toBeNull();
  });

  it('the other messages keep their seqs, and a later append gets a new, higher seq', async () => {
    const { session, items } = await conversation();
    await messages.remove(session.id, items[3].id);
    const [next] = await messages.appendOk(session.id, [user('after')]);
    expect(next.seq).toBe(5);
    expect((await messages.list(session.id, 'order=asc')).body.items.map((item: { seq: number }) => item.seq)).toEqual([1, 2, 3, 5]);
  });

  it('deleting the newest message: the next append follows the one before it', async () => {
    const { session, items } = await conversation();
    await messages.remove(session.id, items[3].id);
    const [next] = await messages.appendOk(session.id, [user('after')]);
    expect(next.parent_id).toBe(items[2].id);
  });

  it("moves the session's message_count, last_message_at back, updated_at and ETag forward", async () => {
    const session = await messages.session();
    const [first] = await messages.appendOk(session.id, [user('1')]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const [second] = await messages.appendOk(session.id, [user('2')]);
    const before = await messages.getSession(session.id);
    expect(before.body.last_message_at).toBe(second.created_at);
    await messages.remove(session.id, second.id);
    const after = await messages.getSession(session.id);
    expect(after.body.message_count).toBe(1);
    expect(after.body.last_message_at).toBe(first.created_at);
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
    expect(Date.parse(after.body.updated_at)).toBeGreaterThan(Date.parse(before.body.updated_at));
  });

  it('deleting an older message leaves last_message_at where it is', async () => {
    const { session, items } = await conversation();
    await messages.remove(session.id, items[0].id);
    expect((await messages.getSession(session.id)).body.last_message_at).toBe(items[3].created_at);
  });

  it('deleting the last message left: message_count 0, last_message_at null', async () => {
    const { session, items } = await conversation(1);
    await messages.remove(session.id, items[0].id);
    const after = (await messages.getSession(session.id)).body;
    expect(after).toMatchObject({ message_count: 0, last_message_at: null });
    expect((await messages.list(session.id)).body.items).toEqual([]);
    const [next] = await messages.appendOk(session.id, [user('fresh')]);
    expect(next).toMatchObject({ seq: 2, parent_id: null });
  });

  it('an in_progress message may be deleted', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming([text('x')])]);
    expect((await messages.remove(session.id, message.id)).status).toBe(204);
  });

  it('a second delete of the same message is a 404', async () => {
    const { session, items } = await conversation();
    await messages.remove(session.id, items[0].id);
    expectProblem(await messages.remove(session.id, items[0].id), 404, 'not-found');
    expect((await messages.getSession(session.id)).body.message_count).toBe(3);
  });

  it('concurrent deletes of one message: one 204, the rest 404, the count moves once', async () => {
    const { session, items } = await conversation();
    const responses = await Promise.all(Array.from({ length: 6 }, () => messages.remove(session.id, items[1].id)));
    expect(responses.map((response) => response.status).sort()).toEqual([204, 404, 404, 404, 404, 404]);
    expect((await messages.getSession(session.id)).body.message_count).toBe(3);
  });

  it('deletes racing appends keep message_count equal to the rows', async () => {
    const { session, items } = await conversation(6);
    await Promise.all([
      ...items.slice(0, 3).map((item) => messages.remove(session.id, item.id)),
      ...Array.from({ length: 3 }, () => messages.append(session.id, [user('new')])),
    ]);
    expect((await messages.getSession(session.id)).body.message_count).toBe(await rowCount(session.id));
    expect(await rowCount(session.id)).toBe(6);
  });
});

describe('If-Match on delete (the message\'s ETag)', () => {
  it('the current ETag deletes', async () => {
    const { session, items } = await conversation();
    const etag = (await messages.get(session.id, items[0].id)).headers.get('etag')!;
    expect((await messages.remove(session.id, items[0].id, { headers: { 'If-Match': etag } })).status).toBe(204);
  });

  it('an old ETag is a 412 and deletes nothing', async () => {
    const { session, items } = await conversation();
    const etag = (await messages.get(session.id, items[0].id)).headers.get('etag')!;
    await messages.patch(session.id, items[0].id, { metadata: { edited: true } });
    expectProblem(await messages.remove(session.id, items[0].id, { headers: { 'If-Match': etag } }), 412, 'precondition-failed');
    expect(await rowCount(session.id)).toBe(4);
    expect((await messages.getSession(session.id)).body.message_count).toBe(4);
  });

  it('If-Match: * deletes an existing message', async () => {
    const { session, items } = await conversation();
    expect((await messages.remove(session.id, items[0].id, { headers: { 'If-Match': '*' } })).status).toBe(204);
  });
});

describe('which message', () => {
  it('a message of another session is a 404 and deletes nothing', async () => {
    const { session, items } = await conversation();
    const other = await messages.session();
    expectProblem(await messages.remove(other.id, items[0].id), 404, 'not-found');
    expect(await rowCount(session.id)).toBe(4);
  });

  it('an unknown session is a 404', async () => {
    const { items } = await conversation();
    expectProblem(await messages.remove(randomUUID(), items[0].id), 404, 'not-found');
  });
});

describe('a closed session takes no message writes (409 session-closed), its messages stay readable', () => {
  async function closedWith() {
    const session = await messages.session();
    const [done, live] = await messages.appendOk(session.id, [user('done'), streaming([text('half')])]);
    expect((await service.api.patch(`/sessions/${session.id}`, { status: 'closed' })).status).toBe(200);
    return { session, done, live };
  }

  it('append', async () => {
    const { session } = await closedWith();
    const response = await messages.append(session.id, [user()]);
    expectProblem(response, 409, 'session-closed');
    expect(response.body.detail).toMatch(/closed/);
    expect(await rowCount(session.id)).toBe(2);
  });

  it('patch', async () => {
    const { session, done } = await closedWith();
    expectProblem(await messages.patch(session.id, done.id, { metadata: { a: 1 } }), 409, 'session-closed');
  });

  it('/append into an in_progress message', async () => {
    const { session, live } = await closedWith();
    expectProblem(await messages.appendText(session.id, live.id, 'more'), 409, 'session-closed');
  });

  it('delete', async () => {
    const { session, done } = await closedWith();
    expectProblem(await messages.remove(session.id, done.id), 409, 'session-closed');
    expect(await rowCount(session.id)).toBe(2);
  });

  it('get and list still answer', async () => {
    const { session, done } = await closedWith();
    expect((await messages.get(session.id, done.id)).body).toEqual(done);
    expect((await messages.list(session.id)).body.items).toHaveLength(2);
  });

  it('an archived session does take messages', async () => {
    const session = await messages.session();
    await service.api.patch(`/sessions/${session.id}`, { status: 'archived' });
    expect((await messages.append(session.id, [user()])).status).toBe(201);
  });

  it('re-opened (status active), it takes messages again', async () => {
    const { session } = await closedWith();
    await service.api.patch(`/sessions/${session.id}`, { status: 'active' });
    expect((await messages.append(session.id, [user()])).status).toBe(201);
  });
});

describe('a soft-deleted session takes no message writes (409 session-deleted), its messages stay readable', () => {
  async function softDeletedWith() {
    const session = await messages.session();
    const [done, live] = await messages.appendOk(session.id, [user('done'), streaming([text('half')])]);
    expect((await service.api.delete(`/sessions/${session.id}`)).status).toBe(204);
    return { session, done, live };
  }

  it('append, patch, /append and delete are each a 409 session-deleted', async () => {
    const { session, done, live } = await softDeletedWith();
    const append = await messages.append(session.id, [user()]);
    expectProblem(append, 409, 'session-deleted');
    expect(append.body.detail).toMatch(/soft-deleted/);
    expectProblem(await messages.patch(session.id, done.id, { metadata: { a: 1 } }), 409, 'session-deleted');
    expectProblem(await messages.appendText(session.id, live.id, 'x'), 409, 'session-deleted');
    expectProblem(await messages.remove(session.id, done.id), 409, 'session-deleted');
    expect(await rowCount(session.id)).toBe(2);
  });

  it('soft delete keeps the messages: get and list answer them', async () => {
    const { session, done } = await softDeletedWith();
    expect(await rowCount(session.id)).toBe(2);
    expect((await messages.get(session.id, done.id)).status).toBe(200);
    expect((await messages.list(session.id)).body.items).toHaveLength(2);
  });

  it('restored (is_active: true), it takes messages again', async () => {
    const { session } = await softDeletedWith();
    expect((await service.api.patch(`/sessions/${session.id}`, { is_active: true })).status).toBe(200);
    expect((await messages.append(session.id, [user()])).status).toBe(201);
  });
});

describe('hard-deleting a session', () => {
  it('deletes its messages (the table holds none of them) and every message route is a 404', async () => {
    const { session, items } = await conversation();
    expect((await service.api.delete(`/sessions/${session.id}?hard=true`)).status).toBe(204);
    expect(await rowCount(session.id)).toBe(0);
    expectProblem(await messages.list(session.id), 404, 'not-found');
    expectProblem(await messages.get(session.id, items[0].id), 404, 'not-found');
    expectProblem(await messages.append(session.id, [user()]), 404, 'not-found');
    expectProblem(await messages.patch(session.id, items[0].id, { metadata: { a: 1 } }), 404, 'not-found');
    expectProblem(await messages.appendText(session.id, items[0].id, 'x'), 404, 'not-found');
    expectProblem(await messages.remove(session.id, items[0].id), 404, 'not-found');
  });

  it("leaves other sessions' messages alone", async () => {
    const a = await conversation(2);
    const b = await conversation(3);
    await service.api.delete(`/sessions/${a.session.id}?hard=true`);
    expect(await rowCount(b.session.id)).toBe(3);
  });
});
