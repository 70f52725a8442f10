/**
 * POST /sessions/{id}/messages/{message_id}/append (SPEC.md, "Endpoints"): streaming text into an
 * in_progress message — where a delta goes, what the answer holds, the limits, and the session
 * left alone.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectProblem, messagesOf, storedMessages, streaming, text, user } from './support/messages.ts';
import { expectInvalid } from './support/problems.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();
const messages = messagesOf(service);

async function streamingMessage(content = [] as Record<string, unknown>[]) {
  const session = await messages.session();
  const [message] = await messages.appendOk(session.id, [streaming(content)]);
  return { session, message };
}
const contentOf = async (sessionId: string, messageId: string) => (await messages.get(sessionId, messageId)).body.content;

describe('where a delta goes', () => {
  it('into an empty content: a new text part', async () => {
    const { session, message } = await streamingMessage();
    expect((await messages.appendText(session.id, message.id, 'Hello')).status).toBe(200);
    expect(await contentOf(session.id, message.id)).toEqual([text('Hello')]);
  });

  it('deltas are added to the last text part, concatenated exactly', async () => {
    const { session, message } = await streamingMessage();
    const deltas = ['The budget ', 'was "approved"', ' \\ on\n12 ', 'September 🎉', '\t', ' ', 'مرحبا', 'e\u0301'];
    for (const delta of deltas) expect((await messages.appendText(session.id, message.id, delta)).status).toBe(200);
    expect(await contentOf(session.id, message.id)).toEqual([text(deltas.join(''))]);
  });

  it('after a tool_call part, a delta starts a new text part', async () => {
    const toolCall = { type: 'tool_call', call_id: 'c1', name: 'search', arguments: { q: 'x' } };
    const { session, message } = await streamingMessage([text('Let me look.'), toolCall]);
    await messages.appendText(session.id, message.id, 'Found it');
    await messages.appendText(session.id, message.id, ': yes.');
    expect(await contentOf(session.id, message.id)).toEqual([text('Let me look.'), toolCall, text('Found it: yes.')]);
  });

  it.each([
    ['reasoning', { type: 'reasoning', text: 'thinking' }],
    ['refusal', { type: 'refusal', text: 'no' }],
    ['source', { type: 'source', document_id: 'd' }],
  ])('after a %s part (not text), a delta starts a new text part', async (_, part) => {
    const { session, message } = await streamingMessage([part]);
    await messages.appendText(session.id, message.id, 'answer');
    expect(await contentOf(session.id, message.id)).toEqual([part, text('answer')]);
  });

  it('only the last part grows: an earlier text part is left as it is', async () => {
    const { session, message } = await streamingMessage([text('first'), text('second')]);
    await messages.appendText(session.id, message.id, '+');
    expect(await contentOf(session.id, message.id)).toEqual([text('first'), text('second+')]);
  });

  it('the stored byte count follows the deltas exactly (what the 1 MiB limit checks)', async () => {
    const toolCall = { type: 'tool_call', call_id: 'c', name: 'n', arguments: {} };
    const { session, message } = await streamingMessage([toolCall]);
    for (const delta of ['a"b', '\\', '\n🎉', '\u0001', 'é']) await messages.appendText(session.id, message.id, delta);
    const [row] = await storedMessages(service, session.id);
    expect(row!.content_bytes).toBe(Buffer.byteLength(JSON.stringify(row!.content)));
  });
});

describe('what the answer holds', () => {
  it('{id, seq, status, updated_at} and the message\'s new ETag, never the content', async () => {
    const { session, message } = await streamingMessage();
    const response = await messages.appendText(session.id, message.id, 'secret content');
    expect(response.status).toBe(200);
    expect(Object.keys(response.body).sort()).toEqual(['id', 'seq', 'status', 'updated_at']);
    expect(response.body).toMatchObject({ id: message.id, seq: message.seq, status: 'in_progress' });
    expect(response.text).not.toMatch(/secret/);
    const read = await messages.get(session.id, message.id);
    expect(response.headers.get('etag')).toBe(read.headers.get('etag'));
    expect(response.body.updated_at).toBe(read.body.updated_at);
  });

  it('each delta moves the ETag and updated_at forward', async () => {
    const { session, message } = await streamingMessage();
    const first = await messages.appendText(session.id, message.id, 'a');
    const second = await messages.appendText(session.id, message.id, 'b');
    expect(second.headers.get('etag')).not.toBe(first.headers.get('etag'));
    expect(Date.parse(second.body.updated_at)).toBeGreaterThan(Date.parse(first.body.updated_at));
  });
});

describe('only while in_progress', () => {
  it.each(['completed', 'incomplete', 'failed'])('a delta to a %s message is a 409 message-not-in-progress', async (status) => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [{ role: 'assistant', status, content: [text('done')] }]);
    expectProblem(await messages.appendText(session.id, message.id, 'more'), 409, 'message-not-in-progress');
    expect(await contentOf(session.id, message.id)).toEqual([text('done')]);
  });

  it('once patched to completed, a delta is a 409', async () => {
    const { session, message } = await streamingMessage();
    await messages.appendText(session.id, message.id, 'all');
    expect((await messages.patch(session.id, message.id, { status: 'completed', finish_reason: 'stop' })).status).toBe(200);
    expectProblem(await messages.appendText(session.id, message.id, 'late'), 409, 'message-not-in-progress');
  });
});

describe('the delta itself', () => {
  it('an empty text is a 400 naming /text', async () => {
    const { session, message } = await streamingMessage();
    expectInvalid(await messages.appendText(session.id, message.id, ''), { in: 'body', pointer: '/text' });
  });

  it.each([
    ['NUL', '{"text":"a\\u0000"}'],
    ['a lone surrogate', '{"text":"\\ud800"}'],
  ])('%s is a 400 naming /text', async (_, raw) => {
    const { session, message } = await streamingMessage();
    const response = await service.api.request('POST', `/sessions/${session.id}/messages/${message.id}/append`, {
      raw,
      contentType: 'application/json',
    });
    expectInvalid(response, { in: 'body', pointer: '/text' });
  });

  it('a whitespace-only delta is kept', async () => {
    const { session, message } = await streamingMessage();
    await messages.appendText(session.id, message.id, 'a');
    await messages.appendText(session.id, message.id, ' \n ');
    expect(await contentOf(session.id, message.id)).toEqual([text('a \n ')]);
  });

  it('an unknown field is a 400 naming it', async () => {
    const { session, message } = await streamingMessage();
    const response = await service.api.post(`/sessions/${session.id}/messages/${message.id}/append`, { text: 'a', part: 0 });
    expectInvalid(response, { in: 'body', pointer: '/part' });
  });
});

describe('limits', () => {
  const MiB = 1024 * 1024;

  it('deltas up to 1 MiB are accepted; the one that crosses it is a 413 and adds nothing', async () => {
    // [{"type":"text","text":"…"}] is 27 bytes around the text.
    const { session, message } = await streamingMessage([text('x'.repeat(MiB - 27 - 10))]);
    expect((await messages.appendText(session.id, message.id, '0123456789')).status).toBe(200);
    const [row] = await storedMessages(service, session.id);
    expect(row!.content_bytes).toBe(MiB);
    const response = await messages.appendText(session.id, message.id, 'y');
    expectProblem(response, 413, 'content-too-large');
    const [after] = await storedMessages(service, session.id);
    expect(after!.content_bytes).toBe(MiB);
    expect((after!.content[0]!.text as string).endsWith('0123456789')).toBe(true);
  });

  it('escaped characters count as their JSON: a quote past the limit by one byte is a 413', async () => {
    const { session, message } = await streamingMessage([text('x'.repeat(MiB - 27 - 1))]);
    // A quote is 2 bytes as JSON (\"): one over.
    expectProblem(await messages.appendText(session.id, message.id, '"'), 413, 'content-too-large');
    expect((await messages.appendText(session.id, message.id, 'x')).status).toBe(200);
  });

  it('a delta that would make a 65th part is a 413', async () => {
    const parts = Array.from({ length: 64 }, (_, i) => ({ type: 'source', document_id: `d${i}` }));
    const { session, message } = await streamingMessage(parts);
    const response = await messages.appendText(session.id, message.id, 'text');
    expectProblem(response, 413, 'content-too-large');
    expect(response.body.detail).toMatch(/64/);
    expect(await contentOf(session.id, message.id)).toHaveLength(64);
  });

  it('with 64 parts and a text part last, deltas still go into it', async () => {
    const parts = [...Array.from({ length: 63 }, (_, i) => ({ type: 'source', document_id: `d${i}` })), text('last')];
    const { session, message } = await streamingMessage(parts);
    expect((await messages.appendText(session.id, message.id, '!')).status).toBe(200);
    expect((await contentOf(session.id, message.id)).at(-1)).toEqual(text('last!'));
  });
});

describe('the session is left alone', () => {
  it("a delta does not change the session's ETag, updated_at or message_count", async () => {
    const { session, message } = await streamingMessage();
    const before = await messages.getSession(session.id);
    await messages.appendText(session.id, message.id, 'streamed');
    const after = await messages.getSession(session.id);
    expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
    expect(after.body).toEqual(before.body);
  });

  it("so another client's If-Match append still succeeds while an answer streams", async () => {
    const { session, message } = await streamingMessage();
    const sessionEtag = (await messages.getSession(session.id)).headers.get('etag')!;
    await messages.appendText(session.id, message.id, 'one');
    await messages.appendText(session.id, message.id, ' two');
    const response = await messages.append(session.id, [user('meanwhile')], { headers: { 'If-Match': sessionEtag } });
    expect(response.status).toBe(201);
  });

  it('concurrent deltas all land, none lost (the order is the order they committed)', async () => {
    const { session, message } = await streamingMessage();
    const deltas = Array.from({ length: 20 }, (_, i) => `<${i}>`);
    const responses = await Promise.all(deltas.map((delta) => messages.appendText(session.id, message.id, delta)));
    expect(responses.every((response) => response.status === 200)).toBe(true);
    const [part] = await contentOf(session.id, message.id);
    expect(part.text).toHaveLength(deltas.join('').length);
    for (const delta of deltas) expect(part.text).toContain(delta);
  });
});

describe('If-Match and which message', () => {
  it("the message's current ETag applies the delta; an old one is a 412 and adds nothing", async () => {
    const { session, message } = await streamingMessage();
    const first = await messages.appendText(session.id, message.id, 'a');
    const etag = first.headers.get('etag')!;
    expect((await messages.appendText(session.id, message.id, 'b', { headers: { 'If-Match': etag } })).status).toBe(200);
    expectProblem(await messages.appendText(session.id, message.id, 'c', { headers: { 'If-Match': etag } }), 412, 'precondition-failed');
    expect(await contentOf(session.id, message.id)).toEqual([text('ab')]);
  });

  it('If-Match chains: each answer\'s ETag is the next delta\'s precondition', async () => {
    const { session, message } = await streamingMessage();
    let etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    for (const delta of ['x', 'y', 'z']) {
      const response = await messages.appendText(session.id, message.id, delta, { headers: { 'If-Match': etag } });
      expect(response.status).toBe(200);
      etag = response.headers.get('etag')!;
    }
    expect(await contentOf(session.id, message.id)).toEqual([text('xyz')]);
  });

  it('an unknown message is a 404', async () => {
    const { session } = await streamingMessage();
    expectProblem(await messages.appendText(session.id, randomUUID(), 'a'), 404, 'not-found');
  });

  it('a message of another session is a 404', async () => {
    const { message } = await streamingMessage();
    const other = await messages.session();
    expectProblem(await messages.appendText(other.id, message.id, 'a'), 404, 'not-found');
  });

  it('an unknown session is a 404', async () => {
    const { message } = await streamingMessage();
    expectProblem(await messages.appendText(randomUUID(), message.id, 'a'), 404, 'not-found');
  });
});
