/**
 * GET /sessions/{id}/messages/{message_id} (SPEC.md, "Endpoints"): the message with its ETag,
 * If-None-Match, and the ids a client may send.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectProblem, messagesOf, streaming, user } from './support/messages.ts';
import { expectInvalid } from './support/problems.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();
const messages = messagesOf(service);

async function oneMessage() {
  const session = await messages.session();
  const [message] = await messages.appendOk(session.id, [user('read me', { metadata: { k: 'v' } })]);
  return { session, message };
}

describe('GET a message', () => {
  it('answers the message as appended, with a strong ETag', async () => {
    const { session, message } = await oneMessage();
    const response = await messages.get(session.id, message.id);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(message);
    expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/);
  });

  it("the message's ETag is its own, not the session's", async () => {
    const { session, message } = await oneMessage();
    const read = await messages.get(session.id, message.id);
    const sessionRead = await messages.getSession(session.id);
    expect(read.headers.get('etag')).not.toBe(sessionRead.headers.get('etag'));
  });

  it('the ETag is stable while the message does not change', async () => {
    const { session, message } = await oneMessage();
    await messages.appendOk(session.id, [user('another')]);
    const first = await messages.get(session.id, message.id);
    const second = await messages.get(session.id, message.id);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
  });

  it('If-None-Match with the current ETag is a 304 with no body and the ETag', async () => {
    const { session, message } = await oneMessage();
    const etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    const response = await messages.get(session.id, message.id, { headers: { 'If-None-Match': etag } });
    expect(response.status).toBe(304);
    expect(response.text).toBe('');
    expect(response.headers.get('etag')).toBe(etag);
  });

  it('If-None-Match: * is a 304', async () => {
    const { session, message } = await oneMessage();
    expect((await messages.get(session.id, message.id, { headers: { 'If-None-Match': '*' } })).status).toBe(304);
  });

  it('If-None-Match with a list holding the ETag is a 304', async () => {
    const { session, message } = await oneMessage();
    const etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    expect((await messages.get(session.id, message.id, { headers: { 'If-None-Match': `"nope", ${etag}` } })).status).toBe(304);
  });

  it('If-None-Match with an old ETag is a 200 once the message changed', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming()]);
    const etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    await messages.appendText(session.id, message.id, 'more');
    const response = await messages.get(session.id, message.id, { headers: { 'If-None-Match': etag } });
    expect(response.status).toBe(200);
    expect(response.body.content).toEqual([{ type: 'text', text: 'more' }]);
  });

  it('If-None-Match compares weakly: W/<ETag> is a 304', async () => {
    const { session, message } = await oneMessage();
    const etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    // RFC 9110: If-None-Match uses the weak comparison, so W/"x" matches "x".
    expect((await messages.get(session.id, message.id, { headers: { 'If-None-Match': `W/${etag}` } })).status).toBe(304);
  });
});

describe('which message', () => {
  it('a message of another session is a 404', async () => {
    const { message } = await oneMessage();
    const other = await messages.session();
    expectProblem(await messages.get(other.id, message.id), 404, 'not-found');
  });

  it('an unknown message id is a 404', async () => {
    const { session } = await oneMessage();
    const response = await messages.get(session.id, randomUUID());
    expectProblem(response, 404, 'not-found');
    expect(response.body.detail).toMatch(/message/i);
  });

  it('an unknown session is a 404', async () => {
    const { message } = await oneMessage();
    expectProblem(await messages.get(randomUUID(), message.id), 404, 'not-found');
  });

  it.each([
    ['not a uuid', 'abc'],
    ['a uuid with a trailing character', `${randomUUID()}x`],
    ['SQL', encodeURIComponent("1' OR '1'='1")],
    ['a number', '12'],
  ])('a malformed message id (%s) is a 400 naming /message_id', async (_, id) => {
    const { session } = await oneMessage();
    expectInvalid(await messages.get(session.id, id), { in: 'path', pointer: '/message_id' });
  });

  it('a malformed session id is a 400 naming /id', async () => {
    const { message } = await oneMessage();
    expectInvalid(await messages.get('abc', message.id), { in: 'path', pointer: '/id' });
  });

  it('an upper-case message id finds the message', async () => {
    const { session, message } = await oneMessage();
    const response = await messages.get(session.id, message.id.toUpperCase());
    expect(response.status).toBe(200);
    expect(response.body.id).toBe(message.id);
  });
});
