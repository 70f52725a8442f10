/**
 * The limits of SPEC.md's "Messages" section: 1 MiB of content per message, MESSAGES_BODY_LIMIT
 * on the message routes (the sessions' 64 KiB BODY_LIMIT stays for the rest) and
 * MAX_MESSAGES_PER_SESSION (3 here, to reach it).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectProblem, messagesOf, storedMessages, streaming, text, user } from './support/messages.ts';
import { useTestService } from './support/service.ts';

const MAX_MESSAGES = 3;
const service = useTestService({ MAX_MESSAGES_PER_SESSION: String(MAX_MESSAGES) });
const messages = messagesOf(service);

const MiB = 1024 * 1024;
/** One text part whose content, as compact JSON, is exactly `bytes` bytes. */
const contentOfBytes = (bytes: number) => [text('x'.repeat(bytes - '[{"type":"text","text":""}]'.length))];

describe('a message holds at most 1 MiB of content', () => {
  it('content of exactly 1 MiB as compact JSON is accepted (in a body well over 64 KiB)', async () => {
    const session = await messages.session();
    const content = contentOfBytes(MiB);
    expect(Buffer.byteLength(JSON.stringify(content))).toBe(MiB);
    const [message] = await messages.appendOk(session.id, [{ role: 'assistant', content }]);
    expect(message.content).toEqual(content);
    const [row] = await storedMessages(service, session.id);
    expect(row!.content_bytes).toBe(MiB);
  });

  it('1 MiB + 1 byte is a 413 content-too-large, and nothing is appended', async () => {
    const session = await messages.session();
    const response = await messages.append(session.id, [{ role: 'assistant', content: contentOfBytes(MiB + 1) }]);
    expectProblem(response, 413, 'content-too-large');
    expect(response.body.detail).toMatch(/1048576/);
    expect(await storedMessages(service, session.id)).toEqual([]);
  });

  it('bytes are counted as UTF-8: 1 MiB of JSON in 4-byte emoji is the limit too', async () => {
    const session = await messages.session();
    const overhead = '[{"type":"text","text":""}]'.length;
    const emoji = '🎉'.repeat(Math.floor((MiB - overhead) / 4));
    const fits = `${emoji}${'x'.repeat(MiB - overhead - Buffer.byteLength(emoji))}`;
    expect((await messages.append(session.id, [{ role: 'assistant', content: [text(fits)] }])).status).toBe(201);
    expectProblem(await messages.append(session.id, [{ role: 'assistant', content: [text(`${fits}x`)] }]), 413, 'content-too-large');
  });

  it('escapes count as sent in compact JSON: a quote is two bytes', async () => {
    const session = await messages.session();
    const overhead = '[{"type":"text","text":""}]'.length;
    const quotes = '"'.repeat(Math.floor((MiB - overhead) / 2));
    const fits = `${quotes}${'x'.repeat(MiB - overhead - 2 * quotes.length)}`;
    expect((await messages.append(session.id, [{ role: 'assistant', content: [text(fits)] }])).status).toBe(201);
    expectProblem(await messages.append(session.id, [{ role: 'assistant', content: [text(`${fits}"`)] }]), 413, 'content-too-large');
  });

  it('a patch that would make the content 1 MiB + 1 is a 413 and changes nothing', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming([text('keep')])]);
    const response = await messages.patch(session.id, message.id, { content: contentOfBytes(MiB + 1) });
    expectProblem(response, 413, 'content-too-large');
    expect((await messages.get(session.id, message.id)).body.content).toEqual([text('keep')]);
  });

  it('a patch to exactly 1 MiB is accepted', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming()]);
    const response = await messages.patch(session.id, message.id, { content: contentOfBytes(MiB), status: 'completed' });
    expect(response.status, response.text.slice(0, 300)).toBe(200);
  });
});

describe('request bodies: MESSAGES_BODY_LIMIT on the message routes, BODY_LIMIT elsewhere', () => {
  const overFourMiB = () => Array.from({ length: 5 }, () => ({ role: 'user', content: contentOfBytes(900 * 1024) }));

  it('a batch body over 4 MiB is a 413 payload-too-large naming the limit', async () => {
    const session = await messages.session();
    const response = await messages.append(session.id, overFourMiB());
    expectProblem(response, 413, 'payload-too-large');
    expect(response.body.detail).toMatch(/4194304/);
    expect(await storedMessages(service, session.id)).toEqual([]);
  });

  it('a batch of three messages of 900 KiB (2.6 MiB) is accepted', async () => {
    const session = await messages.session();
    const response = await messages.append(session.id, overFourMiB().slice(0, MAX_MESSAGES));
    expect(response.status, response.text.slice(0, 300)).toBe(201);
  });

  it('a PATCH body over 4 MiB is a 413 payload-too-large', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming()]);
    const response = await messages.patch(session.id, message.id, { content: [text('x'.repeat(4 * MiB))] });
    expectProblem(response, 413, 'payload-too-large');
  });

  it('an /append body over 4 MiB is a 413 payload-too-large', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming()]);
    expectProblem(await messages.appendText(session.id, message.id, 'x'.repeat(4 * MiB)), 413, 'payload-too-large');
  });

  it('POST /sessions keeps the 64 KiB BODY_LIMIT', async () => {
    const response = await service.api.post('/sessions', { user_id: `msg_${randomUUID()}`, title: 't', metadata: { pad: 'x'.repeat(70 * 1024) } });
    expectProblem(response, 413, 'payload-too-large');
    expect(response.body.detail).toMatch(/65536/);
  });

  it('PATCH /sessions/{id} keeps the 64 KiB BODY_LIMIT', async () => {
    const session = await messages.session();
    expectProblem(await service.api.patch(`/sessions/${session.id}`, { title: 'x'.repeat(70 * 1024) }), 413, 'payload-too-large');
  });
});

describe(`a session holds at most MAX_MESSAGES_PER_SESSION (${MAX_MESSAGES} here)`, () => {
  it('appends up to the limit are accepted', async () => {
    const session = await messages.session();
    const items = await messages.appendOk(session.id, [user(), user(), user()]);
    expect(items.map((item) => item.seq)).toEqual([1, 2, 3]);
  });

  it('an append past the limit is a 409 session-full whose detail says so', async () => {
    const session = await messages.session();
    await messages.appendOk(session.id, [user(), user(), user()]);
    const response = await messages.append(session.id, [user()]);
    expectProblem(response, 409, 'session-full');
    expect(response.body.detail).toMatch(/at most 3/);
    expect(response.body.detail).toMatch(/MAX_MESSAGES_PER_SESSION/);
    expect((await messages.getSession(session.id)).body.message_count).toBe(3);
  });

  it('a batch that would cross the limit is a 409 and appends none of it', async () => {
    const session = await messages.session();
    await messages.appendOk(session.id, [user('kept')]);
    const before = await messages.getSession(session.id);
    expectProblem(await messages.append(session.id, [user(), user(), user()]), 409, 'session-full');
    expect((await storedMessages(service, session.id)).map((row) => row.seq)).toEqual([1]);
    expect((await messages.getSession(session.id)).headers.get('etag')).toBe(before.headers.get('etag'));
  });

  it('a batch larger than the limit on an empty session is a 409', async () => {
    const session = await messages.session();
    expectProblem(await messages.append(session.id, [user(), user(), user(), user()]), 409, 'session-full');
  });

  it('after a delete the session takes a message again, with a new seq', async () => {
    const session = await messages.session();
    const items = await messages.appendOk(session.id, [user(), user(), user()]);
    expect((await messages.remove(session.id, items[1].id)).status).toBe(204);
    const [next] = await messages.appendOk(session.id, [user()]);
    expect(next.seq).toBe(4);
  });

  it('concurrent appends at the limit: exactly enough succeed, the rest are 409 session-full', async () => {
    const session = await messages.session();
    const responses = await Promise.all(Array.from({ length: 6 }, () => messages.append(session.id, [user()])));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([201, 201, 201, 409, 409, 409]);
    expect((await storedMessages(service, session.id)).map((row) => row.seq)).toEqual([1, 2, 3]);
  });
});
