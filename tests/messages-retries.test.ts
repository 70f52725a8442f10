/**
 * If-Match and Idempotency-Key on POST /sessions/{id}/messages (SPEC.md, "Endpoints" and
 * "Concurrency and retries"): an append that must follow exactly what the client saw, and an
 * append that is safe to send again — also across two instances on one database.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/database.ts';
import { expectProblem, messagesOf, storedMessages, user } from './support/messages.ts';
import { startInstance, type TestService } from './support/service.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
const service = {} as TestService;
const second = {} as TestService;

beforeAll(async () => {
  database = await createTestDatabase();
  const [one, two] = await Promise.all([
    startInstance(database.url, { IDEMPOTENCY_WAIT_MS: '5000' }),
    startInstance(database.url, { IDEMPOTENCY_WAIT_MS: '5000' }),
  ]);
  Object.assign(service, one);
  Object.assign(second, two);
});
afterAll(async () => {
  await service.stop?.();
  await second.stop?.();
  await database?.drop();
});

const messages = messagesOf(service);
const onSecond = messagesOf(second);
const keyed = (key: string, extra: Record<string, string> = {}) => ({ headers: { 'Idempotency-Key': key, ...extra } });
const etagOf = async (sessionId: string) => (await messages.getSession(sessionId)).headers.get('etag')!;

describe("If-Match on an append: the session's ETag", () => {
  it('the current ETag appends, and the answer carries the next one', async () => {
    const session = await messages.session();
    const etag = await etagOf(session.id);
    const response = await messages.append(session.id, [user('one')], { headers: { 'If-Match': etag } });
    expect(response.status).toBe(201);
    const next = response.headers.get('etag')!;
    expect(next).not.toBe(etag);
    expect((await messages.append(session.id, [user('two')], { headers: { 'If-Match': next } })).status).toBe(201);
  });

  it('after another client appended, the old ETag is a 412 and appends nothing', async () => {
    const session = await messages.session();
    const etag = await etagOf(session.id);
    await messages.appendOk(session.id, [user('someone else')]);
    const response = await messages.append(session.id, [user('mine')], { headers: { 'If-Match': etag } });
    expectProblem(response, 412, 'precondition-failed');
    expect((await storedMessages(service, session.id)).map((row) => row.content[0]!.text)).toEqual(['someone else']);
  });

  it('after the session itself changed (a rename), the old ETag is a 412', async () => {
    const session = await messages.session();
    const etag = await etagOf(session.id);
    await service.api.patch(`/sessions/${session.id}`, { title: 'renamed' });
    expectProblem(await messages.append(session.id, [user()], { headers: { 'If-Match': etag } }), 412, 'precondition-failed');
  });

  it('If-Match: * appends to an existing session', async () => {
    const session = await messages.session();
    expect((await messages.append(session.id, [user()], { headers: { 'If-Match': '*' } })).status).toBe(201);
  });

  it('If-Match: * on an unknown session is a 404', async () => {
    expectProblem(await messages.append(randomUUID(), [user()], { headers: { 'If-Match': '*' } }), 404, 'not-found');
  });

  it("a message's ETag is not the session's: a 412", async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [user()]);
    await messages.patch(session.id, message.id, { metadata: { a: 1 } });
    await messages.patch(session.id, message.id, { metadata: { a: 2 } });
    const messageEtag = (await messages.get(session.id, message.id)).headers.get('etag')!;
    expect(messageEtag).not.toBe(await etagOf(session.id));
    expectProblem(await messages.append(session.id, [user()], { headers: { 'If-Match': messageEtag } }), 412, 'precondition-failed');
  });

  it('racing appends with the same If-Match over two instances: exactly one wins', async () => {
    const session = await messages.session();
    const etag = await etagOf(session.id);
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? onSecond : messages).append(session.id, [user(`${i}`)], { headers: { 'If-Match': etag } })),
    );
    expect(responses.map((response) => response.status).sort()).toEqual([201, ...Array(9).fill(412)]);
    expect(await storedMessages(service, session.id)).toHaveLength(1);
  });
});

describe('Idempotency-Key on an append', () => {
  it('a replay answers the same status, body and ETag, marked Idempotent-Replayed, and appends nothing twice', async () => {
    const session = await messages.session();
    const key = randomUUID();
    const first = await messages.append(session.id, [user('a'), user('b')], keyed(key));
    const again = await messages.append(session.id, [user('a'), user('b')], keyed(key));
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await storedMessages(service, session.id)).toHaveLength(2);
    expect((await messages.getSession(session.id)).body.message_count).toBe(2);
  });

  it('a replay on the other instance is the same replay', async () => {
    const session = await messages.session();
    const key = randomUUID();
    const first = await messages.append(session.id, [user('x')], keyed(key));
    const again = await onSecond.append(session.id, [user('x')], keyed(key));
    expect(again.body).toEqual(first.body);
    expect(await storedMessages(service, session.id)).toHaveLength(1);
  });

  it('a replay after other appends still answers the first response', async () => {
    const session = await messages.session();
    const key = randomUUID();
    const first = await messages.append(session.id, [user('x')], keyed(key));
    await messages.appendOk(session.id, [user('later')]);
    const again = await messages.append(session.id, [user('x')], keyed(key));
    expect(again.body).toEqual(first.body);
    expect(await storedMessages(service, session.id)).toHaveLength(2);
  });

  it('the same key with a different body is a 422 and appends nothing', async () => {
    const session = await messages.session();
    const key = randomUUID();
    await messages.appendOk(session.id, [user('first')], keyed(key));
    const response = await messages.append(session.id, [user('second')], keyed(key));
    expectProblem(response, 422, 'idempotency-key-reused');
    expect(await storedMessages(service, session.id)).toHaveLength(1);
  });

  it('the same key on another session is a 422 and appends nothing there', async () => {
    const a = await messages.session();
    const b = await messages.session();
    const key = randomUUID();
    await messages.appendOk(a.id, [user('same')], keyed(key));
    expectProblem(await messages.append(b.id, [user('same')], keyed(key)), 422, 'idempotency-key-reused');
    expect(await storedMessages(service, b.id)).toHaveLength(0);
  });

  it('the same key used to create a session is a 422 on an append', async () => {
    const key = randomUUID();
    const created = await service.api.post('/sessions', { user_id: `msg_${randomUUID()}` }, keyed(key));
    expect(created.status).toBe(201);
    expectProblem(await messages.append(created.body.id, [user()], keyed(key)), 422, 'idempotency-key-reused');
  });

  it('the same key with another If-Match is another request: a 422', async () => {
    const session = await messages.session();
    const key = randomUUID();
    const etag = await etagOf(session.id);
    await messages.appendOk(session.id, [user('x')], keyed(key, { 'If-Match': etag }));
    expectProblem(await messages.append(session.id, [user('x')], keyed(key)), 422, 'idempotency-key-reused');
  });

  it('20 concurrent identical appends with one key over two instances append exactly once', async () => {
    const session = await messages.session();
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? onSecond : messages).append(session.id, [user('once')], keyed(key))),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((response) => response.body.items[0].id)).size).toBe(1);
    expect(responses.filter((response) => response.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
    expect(await storedMessages(service, session.id)).toHaveLength(1);
    expect((await messages.getSession(session.id)).body.message_count).toBe(1);
  });

  it('a first attempt that failed (session closed) does not poison the key: after re-opening, the retry appends', async () => {
    const session = await messages.session();
    const key = randomUUID();
    await service.api.patch(`/sessions/${session.id}`, { status: 'closed' });
    expectProblem(await messages.append(session.id, [user('x')], keyed(key)), 409, 'session-closed');
    await service.api.patch(`/sessions/${session.id}`, { status: 'active' });
    const retry = await messages.append(session.id, [user('x')], keyed(key));
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
  });

  it('a key with a space is a 400 naming the header', async () => {
    const session = await messages.session();
    const response = await messages.append(session.id, [user()], keyed('has space'));
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toMatchObject({ in: 'header', pointer: expect.stringMatching(/idempotency-key/i) });
  });
});
