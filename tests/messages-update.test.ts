/**
 * PATCH /sessions/{id}/messages/{message_id} (SPEC.md, "Endpoints"): a JSON Merge Patch —
 * metadata at any time, the generation fields only while in_progress, status transitions, If-Match.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectProblem, messagesOf, streaming, text, user } from './support/messages.ts';
import { expectInvalid } from './support/problems.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();
const messages = messagesOf(service);

async function completed(metadata: Record<string, unknown> = {}) {
  const session = await messages.session();
  const [message] = await messages.appendOk(session.id, [user('done', { metadata })]);
  return { session, message };
}
async function inProgress(content = [text('so far')]) {
  const session = await messages.session();
  const [message] = await messages.appendOk(session.id, [{ ...streaming(content), model: 'gpt-4o' }]);
  return { session, message };
}

describe('metadata, at any time', () => {
  it('is merged key by key; null removes a key', async () => {
    const { session, message } = await completed({ keep: 1, drop: 2, nested: { a: 1, b: 2 } });
    const response = await messages.patch(session.id, message.id, { metadata: { drop: null, added: 'x', nested: { b: null, c: 3 } } });
    expect(response.status, response.text).toBe(200);
    expect(response.body.metadata).toEqual({ keep: 1, added: 'x', nested: { a: 1, c: 3 } });
    expect((await messages.get(session.id, message.id)).body.metadata).toEqual(response.body.metadata);
  });

  it('metadata: null empties it', async () => {
    const { session, message } = await completed({ a: 1 });
    expect((await messages.patch(session.id, message.id, { metadata: null })).body.metadata).toEqual({});
  });

  it.each(['completed', 'incomplete', 'failed'])('a %s message takes a metadata patch', async (status) => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [{ role: 'assistant', status, content: [text('x')] }]);
    const response = await messages.patch(session.id, message.id, { metadata: { rated: 'up' } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status, metadata: { rated: 'up' } });
  });

  it('changes the message only: its updated_at and ETag move, the rest stays', async () => {
    const { session, message } = await completed();
    const before = await messages.get(session.id, message.id);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const response = await messages.patch(session.id, message.id, { metadata: { k: 1 } });
    expect(response.headers.get('etag')).not.toBe(before.headers.get('etag'));
    expect(Date.parse(response.body.updated_at)).toBeGreaterThan(Date.parse(message.updated_at));
    const { metadata: _m, updated_at: _u, ...rest } = response.body;
    const { metadata: _m2, updated_at: _u2, ...restBefore } = before.body;
    expect(rest).toEqual(restBefore);
    expect((await messages.get(session.id, message.id)).headers.get('etag')).toBe(response.headers.get('etag'));
  });

  it("does not change the session's ETag, message_count or updated_at", async () => {
    const { session, message } = await completed();
    const before = await messages.getSession(session.id);
    await messages.patch(session.id, message.id, { metadata: { k: 1 } });
    const after = await messages.getSession(session.id);
    expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
    expect(after.body).toEqual(before.body);
  });

  it('metadata over 8 KiB after the merge is a 400 naming /metadata', async () => {
    const { session, message } = await completed({ a: 'x'.repeat(5000) });
    expectInvalid(await messages.patch(session.id, message.id, { metadata: { b: 'y'.repeat(5000) } }), { in: 'body', pointer: '/metadata' });
  });

  it('NUL in a metadata value is a 400 naming it, even in a key the patch removes', async () => {
    const { session, message } = await completed();
    expectInvalid(await messages.patchRaw(session.id, message.id, '{"metadata":{"k":"a\\u0000"}}'), { in: 'body', pointer: '/metadata/k' });
    const response = await messages.patchRaw(session.id, message.id, '{"metadata":{"gone":null,"x":{"y":"\\ud800"}}}');
    expectInvalid(response, { in: 'body', pointer: '/metadata/x/y' });
  });
});

describe('content, status, model, finish_reason, usage: only while in_progress', () => {
  it('an in_progress message takes them all, and a status that ends it', async () => {
    const { session, message } = await inProgress();
    const patch = {
      content: [text('The whole answer.'), { type: 'source', document_id: 'doc_7' }],
      status: 'completed',
      model: 'gpt-4o-mini',
      finish_reason: 'stop',
      usage: { input_tokens: 10, output_tokens: 20 },
    };
    const response = await messages.patch(session.id, message.id, patch);
    expect(response.status, response.text).toBe(200);
    expect(response.body).toMatchObject(patch);
    expect((await messages.get(session.id, message.id)).body).toEqual(response.body);
  });

  it('content is replaced whole, not merged', async () => {
    const { session, message } = await inProgress([text('a'), text('b'), text('c')]);
    const response = await messages.patch(session.id, message.id, { content: [text('only')] });
    expect(response.body.content).toEqual([text('only')]);
    expect(response.body.status).toBe('in_progress');
  });

  it('model: null and usage: null clear them', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [{ ...streaming(), model: 'm', usage: { input_tokens: 1, output_tokens: 1 } }]);
    const response = await messages.patch(session.id, message.id, { model: null, usage: null, finish_reason: null });
    expect(response.body).toMatchObject({ model: null, usage: null, finish_reason: null });
  });

  it.each(['completed', 'incomplete', 'failed'])('status moves from in_progress to %s', async (status) => {
    const { session, message } = await inProgress();
    expect((await messages.patch(session.id, message.id, { status })).body.status).toBe(status);
  });

  it('status: in_progress is a 400 naming /status (only a final status may be set)', async () => {
    const { session, message } = await inProgress();
    expectInvalid(await messages.patch(session.id, message.id, { status: 'in_progress' }), { in: 'body', pointer: '/status' });
  });

  it('completing a message with no content is a 400 naming /content', async () => {
    const { session, message } = await inProgress([]);
    expectInvalid(await messages.patch(session.id, message.id, { status: 'completed' }), { in: 'body', pointer: '/content' });
    expect((await messages.get(session.id, message.id)).body.status).toBe('in_progress');
  });

  it('completing while emptying the content is a 400 naming /content', async () => {
    const { session, message } = await inProgress();
    expectInvalid(await messages.patch(session.id, message.id, { status: 'completed', content: [] }), { in: 'body', pointer: '/content' });
  });

  it.each(['failed', 'incomplete'])('%s with no content is accepted', async (status) => {
    const { session, message } = await inProgress([]);
    expect((await messages.patch(session.id, message.id, { status })).status).toBe(200);
  });

  it.each([
    ['content', { content: [text('rewrite')] }],
    ['status', { status: 'failed' }],
    ['model', { model: 'other' }],
    ['finish_reason', { finish_reason: 'stop' }],
    ['usage', { usage: { input_tokens: 1, output_tokens: 1 } }],
    ['metadata together with content', { metadata: { a: 1 }, content: [text('x')] }],
  ])('%s on a completed message is a 409 message-not-in-progress, and nothing changes', async (_, patch) => {
    const { session, message } = await completed();
    const response = await messages.patch(session.id, message.id, patch);
    expectProblem(response, 409, 'message-not-in-progress');
    expect(response.body.detail).toMatch(/completed/);
    expect((await messages.get(session.id, message.id)).body).toEqual(message);
  });

  it('a finished message cannot be re-opened or finished again', async () => {
    const { session, message } = await inProgress();
    await messages.patch(session.id, message.id, { status: 'incomplete' });
    expectProblem(await messages.patch(session.id, message.id, { status: 'completed' }), 409, 'message-not-in-progress');
  });

  it('patched content follows the content rules, naming /content/N/…', async () => {
    const { session, message } = await inProgress();
    expectInvalid(await messages.patch(session.id, message.id, { content: [text('ok'), { type: 'image', url: 'data:image/png;base64,AA' }] }), {
      in: 'body',
      pointer: '/content/1/url',
      message: /data: URL/,
    });
    expectInvalid(await messages.patchRaw(session.id, message.id, '{"content":[{"type":"text","text":"\\u0000"}]}'), {
      in: 'body',
      pointer: '/content/0/text',
    });
    expectInvalid(
      await messages.patchRaw(session.id, message.id, '{"content":[{"type":"tool_call","call_id":"c","name":"n","arguments":{"a":["\\ud800"]}}]}'),
      { in: 'body', pointer: '/content/0/arguments/a/0' },
    );
  });

  it('a source score that is not finite once parsed (1e400) is a 400 naming /content/0/score', async () => {
    const { session, message } = await inProgress();
    expectInvalid(await messages.patchRaw(session.id, message.id, '{"content":[{"type":"source","document_id":"d","score":1e400}]}'), {
      in: 'body',
      pointer: '/content/0/score',
    });
  });

  it('content of 65 parts is a 400 naming /content', async () => {
    const { session, message } = await inProgress();
    const content = Array.from({ length: 65 }, () => text('p'));
    expectInvalid(await messages.patch(session.id, message.id, { content }), { in: 'body', pointer: '/content' });
  });

  it('usage of 2^31 tokens is a 400 naming /usage/input_tokens', async () => {
    const { session, message } = await inProgress();
    expectInvalid(await messages.patch(session.id, message.id, { usage: { input_tokens: 2 ** 31, output_tokens: 0 } }), {
      in: 'body',
      pointer: '/usage/input_tokens',
    });
  });
});

describe('what a patch may hold', () => {
  it('{} is a 400', async () => {
    const { session, message } = await completed();
    const response = await messages.patch(session.id, message.id, {});
    expect(response.status).toBe(400);
    expect(response.body.type).toBe('/problems/validation-failed');
  });

  it.each(['id', 'seq', 'session_id', 'parent_id', 'role', 'created_at', 'updated_at', 'version'])(
    'read-only or unknown field %s is a 400 naming it',
    async (field) => {
      const { session, message } = await completed();
      expectInvalid(await messages.patch(session.id, message.id, { [field]: 'x' }), { in: 'body', pointer: `/${field}` });
    },
  );

  it.each([
    ['content: null', { content: null }, '/content'],
    ['status: null', { status: null }, '/status'],
    ['metadata that is an array', { metadata: [1] }, '/metadata'],
  ])('%s is a 400 naming it', async (_, patch, pointer) => {
    const { session, message } = await inProgress();
    expectInvalid(await messages.patch(session.id, message.id, patch), { in: 'body', pointer });
  });

  it('application/json is accepted as well as application/merge-patch+json', async () => {
    const { session, message } = await completed();
    const response = await messages.patch(session.id, message.id, { metadata: { a: 1 } }, { contentType: 'application/json' });
    expect(response.status).toBe(200);
  });

  it('text/plain is a 415', async () => {
    const { session, message } = await completed();
    const response = await messages.patch(session.id, message.id, { metadata: { a: 1 } }, { contentType: 'text/plain' });
    expectProblem(response, 415, 'unsupported-media-type');
  });
});

describe('If-Match', () => {
  it("the message's current ETag applies the patch", async () => {
    const { session, message } = await completed();
    const etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    expect((await messages.patch(session.id, message.id, { metadata: { a: 1 } }, { headers: { 'If-Match': etag } })).status).toBe(200);
  });

  it('an old ETag is a 412 and changes nothing', async () => {
    const { session, message } = await completed();
    const etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    await messages.patch(session.id, message.id, { metadata: { first: 1 } });
    expectProblem(await messages.patch(session.id, message.id, { metadata: { second: 2 } }, { headers: { 'If-Match': etag } }), 412, 'precondition-failed');
    expect((await messages.get(session.id, message.id)).body.metadata).toEqual({ first: 1 });
  });

  it("the session's ETag is not the message's: a 412", async () => {
    const { session, message } = await completed();
    const sessionEtag = (await messages.getSession(session.id)).headers.get('etag')!;
    const messageEtag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    expect(sessionEtag).not.toBe(messageEtag);
    expectProblem(await messages.patch(session.id, message.id, { metadata: { a: 1 } }, { headers: { 'If-Match': sessionEtag } }), 412, 'precondition-failed');
  });

  it('If-Match: * applies to an existing message', async () => {
    const { session, message } = await completed();
    expect((await messages.patch(session.id, message.id, { metadata: { a: 1 } }, { headers: { 'If-Match': '*' } })).status).toBe(200);
  });

  it('concurrent patches with the same If-Match: exactly one wins', async () => {
    const { session, message } = await inProgress();
    const etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => messages.patch(session.id, message.id, { metadata: { [`w${i}`]: i } }, { headers: { 'If-Match': etag } })),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([200, 412, 412, 412, 412, 412, 412, 412]);
  });

  it('concurrent metadata patches without If-Match all merge (no lost update)', async () => {
    const { session, message } = await completed();
    await Promise.all(Array.from({ length: 10 }, (_, i) => messages.patch(session.id, message.id, { metadata: { [`k${i}`]: i } })));
    expect(Object.keys((await messages.get(session.id, message.id)).body.metadata).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `k${i}`).sort(),
    );
  });
});

describe('which message', () => {
  it('an unknown message is a 404', async () => {
    const { session } = await completed();
    expectProblem(await messages.patch(session.id, randomUUID(), { metadata: { a: 1 } }), 404, 'not-found');
  });

  it('a message of another session is a 404', async () => {
    const { message } = await completed();
    const other = await messages.session();
    expectProblem(await messages.patch(other.id, message.id, { metadata: { a: 1 } }), 404, 'not-found');
  });
});
