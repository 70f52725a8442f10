/**
 * IN_PROGRESS_TIMEOUT_S (SPEC.md, "Endpoints"): an in_progress message with no write for the
 * timeout is incomplete with finish_reason error — as every read shows it and as later writes find
 * it. One second here; the tests wait, so they run concurrently.
 */
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { expectProblem, messagesOf, streaming, text, user } from './support/messages.ts';
import { useTestService } from './support/service.ts';

const service = useTestService({ IN_PROGRESS_TIMEOUT_S: '1' });
const messages = messagesOf(service);

/** An in_progress message with some text, left alone for longer than the timeout. */
async function abandoned() {
  const session = await messages.session();
  const [message] = await messages.appendOk(session.id, [streaming()]);
  const delta = await messages.appendText(session.id, message.id, 'half an ans');
  const before = await messages.get(session.id, message.id);
  await new Promise((resolve) => setTimeout(resolve, 1300));
  return { session, message, before, lastWrite: delta.body.updated_at as string };
}

describe.concurrent('an in_progress message left alone past IN_PROGRESS_TIMEOUT_S', () => {
  it('reads as incomplete with finish_reason error, keeping what was appended', async () => {
    const { session, message, before } = await abandoned();
    expect(before.body.status).toBe('in_progress');
    const read = await messages.get(session.id, message.id);
    expect(read.body).toMatchObject({ status: 'incomplete', finish_reason: 'error', content: [text('half an ans')] });
  });

  it('its updated_at is when it timed out: the last write plus the timeout', async () => {
    const { session, message, lastWrite } = await abandoned();
    const read = await messages.get(session.id, message.id);
    expect(Date.parse(read.body.updated_at)).toBe(Date.parse(lastWrite) + 1000);
  });

  it('its ETag changed, so If-None-Match with the old one is a 200', async () => {
    const { session, message, before } = await abandoned();
    const read = await messages.get(session.id, message.id, { headers: { 'If-None-Match': before.headers.get('etag')! } });
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).not.toBe(before.headers.get('etag'));
  });

  it('get and list agree', async () => {
    const { session, message } = await abandoned();
    const read = await messages.get(session.id, message.id);
    // (view=all: its items are messages as a read returns them, with no sibling fields)
    const listed = (await messages.list(session.id, 'view=all')).body.items.find((item: { id: string }) => item.id === message.id);
    expect(listed).toEqual(read.body);
  });

  it('a delta after the timeout is a 409 message-not-in-progress, and adds nothing', async () => {
    const { session, message } = await abandoned();
    const response = await messages.appendText(session.id, message.id, 'wer');
    expectProblem(response, 409, 'message-not-in-progress');
    expect(response.body.detail).toMatch(/incomplete/);
    expect((await messages.get(session.id, message.id)).body.content).toEqual([text('half an ans')]);
  });

  it('a delta with the ETag reads showed is a 409 too (not a 412)', async () => {
    const { session, message } = await abandoned();
    const etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    expectProblem(await messages.appendText(session.id, message.id, 'x', { headers: { 'If-Match': etag } }), 409, 'message-not-in-progress');
  });

  it('a patch of status or content after the timeout is a 409', async () => {
    const { session, message } = await abandoned();
    expectProblem(await messages.patch(session.id, message.id, { status: 'completed' }), 409, 'message-not-in-progress');
    expectProblem(await messages.patch(session.id, message.id, { content: [text('x')] }), 409, 'message-not-in-progress');
  });

  it('a metadata patch then stores what reads showed (status, finish_reason, content)', async () => {
    const { session, message } = await abandoned();
    const shown = await messages.get(session.id, message.id);
    const patched = await messages.patch(session.id, message.id, { metadata: { seen: true } }, { headers: { 'If-Match': shown.headers.get('etag')! } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ status: 'incomplete', finish_reason: 'error', content: shown.body.content, metadata: { seen: true } });
    const row = await withClient(service.databaseUrl, (client) =>
      client.query('SELECT status, finish_reason FROM chat_messages WHERE id = $1', [message.id]),
    );
    expect(row.rows[0]).toEqual({ status: 'incomplete', finish_reason: 'error' });
  });

  it('the stale in_progress ETag is a 412 on a metadata patch', async () => {
    const { session, message, before } = await abandoned();
    expectProblem(
      await messages.patch(session.id, message.id, { metadata: { a: 1 } }, { headers: { 'If-Match': before.headers.get('etag')! } }),
      412,
      'precondition-failed',
    );
  });

  it('the ETag reads showed deletes it', async () => {
    const { session, message } = await abandoned();
    const etag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    expect((await messages.remove(session.id, message.id, { headers: { 'If-Match': etag } })).status).toBe(204);
  });
});

describe.concurrent('what the timeout leaves alone', () => {
  it('a message that keeps being written stays in_progress', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming()]);
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await messages.appendText(session.id, message.id, `${i}`)).status).toBe(200);
    }
    expect((await messages.get(session.id, message.id)).body.status).toBe('in_progress');
  });

  it('a metadata patch is a write: it restarts the clock', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming()]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await messages.patch(session.id, message.id, { metadata: { alive: true } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await messages.get(session.id, message.id)).body.status).toBe('in_progress');
  });

  it('completed messages never change with time', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [user('done')]);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect((await messages.get(session.id, message.id)).body).toEqual(message);
  });
});
