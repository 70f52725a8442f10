/**
 * Authentication and isolation on the message routes (SPEC.md, "Cross-cutting" and "Messages"):
 * with AUTH_MODE=jwt a user token acts only on its own sessions' messages — another user's is a
 * 404 for every operation, as if missing — and a service token acts on any.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RequestOptions } from './support/client.ts';
import { expectProblem, messagesOf, storedMessages, streaming, text, user } from './support/messages.ts';
import { useTestService } from './support/service.ts';
import { AUDIENCE, HS_SECRET, hsToken, ISSUER } from './support/tokens.ts';

const service = useTestService({ AUTH_MODE: 'jwt', JWT_SECRET: HS_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });

const bearer = async (claims: Record<string, unknown>): Promise<RequestOptions> => ({
  headers: { Authorization: `Bearer ${await hsToken(claims)}` },
});
const as = async (sub: string) => ({ ...messagesOf(service, await bearer({ sub })), sub });
const asService = async () => messagesOf(service, await bearer({ sub: 'billing-service', role: 'service_role' }));

/** Alice's session with a finished and an in_progress message. */
async function alicesConversation() {
  const alice = await as(`alice_${randomUUID()}`);
  const session = await alice.session({ user_id: alice.sub });
  const [done, live] = await alice.appendOk(session.id, [user('mine'), streaming([text('typing')])]);
  return { alice, session, done, live };
}

describe("a user token acting on another user's session's messages gets a 404 for every operation", () => {
  it.each([
    ['appendMessages', (m: Awaited<ReturnType<typeof as>>, s: string) => m.append(s, [user('intruder')])],
    ['listMessages', (m: Awaited<ReturnType<typeof as>>, s: string) => m.list(s)],
  ])('%s', async (_, call) => {
    const { session } = await alicesConversation();
    const mallory = await as(`mallory_${randomUUID()}`);
    expectProblem(await call(mallory, session.id), 404, 'not-found');
  });

  it.each([
    ['getMessage', (m: Awaited<ReturnType<typeof as>>, s: string, id: string) => m.get(s, id)],
    ['updateMessage', (m: Awaited<ReturnType<typeof as>>, s: string, id: string) => m.patch(s, id, { metadata: { x: 1 } })],
    ['appendMessageText', (m: Awaited<ReturnType<typeof as>>, s: string, id: string) => m.appendText(s, id, 'injected')],
    ['deleteMessage', (m: Awaited<ReturnType<typeof as>>, s: string, id: string) => m.remove(s, id)],
  ])('%s', async (_, call) => {
    const { session, live } = await alicesConversation();
    const mallory = await as(`mallory_${randomUUID()}`);
    expectProblem(await call(mallory, session.id, live.id), 404, 'not-found');
  });

  it("nothing of Alice's changed after Mallory tried every operation", async () => {
    const { alice, session, done, live } = await alicesConversation();
    const mallory = await as(`mallory_${randomUUID()}`);
    await mallory.append(session.id, [user('x')]);
    await mallory.patch(session.id, done.id, { metadata: { x: 1 } });
    await mallory.appendText(session.id, live.id, 'x');
    await mallory.remove(session.id, done.id);
    const rows = await storedMessages(service, session.id);
    expect(rows.map((row) => row.content)).toEqual([[text('mine')], [text('typing')]]);
    expect((await alice.get(session.id, done.id)).body).toEqual(done);
  });

  it("the 404 is the same as for a session that does not exist (no hint that it does)", async () => {
    const { session } = await alicesConversation();
    const mallory = await as(`mallory_${randomUUID()}`);
    const theirs = await mallory.list(session.id);
    const missing = await mallory.list(randomUUID());
    expect(theirs.body.title).toBe(missing.body.title);
    expect(theirs.body.detail.replace(session.id, '<id>')).toBe(missing.body.detail.replace(/[0-9a-f-]{36}/, '<id>'));
  });

  it("Mallory's own message id in Alice's session path is a 404 too", async () => {
    const { session } = await alicesConversation();
    const mallory = await as(`mallory_${randomUUID()}`);
    const own = await mallory.session({ user_id: mallory.sub });
    const [mine] = await mallory.appendOk(own.id, [user('mallory')]);
    expectProblem(await mallory.get(session.id, mine.id), 404, 'not-found');
  });

  it('a user token sees its own messages', async () => {
    const { alice, session } = await alicesConversation();
    expect((await alice.list(session.id)).body.items).toHaveLength(2);
  });
});

describe('a service token acts on any session', () => {
  it('appends, lists, reads, patches, streams into and deletes messages of a user\'s session', async () => {
    const { session, done, live } = await alicesConversation();
    const billing = await asService();
    expect((await billing.append(session.id, [user('from a service')])).status).toBe(201);
    expect((await billing.list(session.id)).body.items).toHaveLength(3);
    expect((await billing.get(session.id, done.id)).status).toBe(200);
    expect((await billing.patch(session.id, done.id, { metadata: { billed: true } })).status).toBe(200);
    expect((await billing.appendText(session.id, live.id, '…')).status).toBe(200);
    expect((await billing.remove(session.id, done.id)).status).toBe(204);
  });
});

describe('Idempotency-Key on appends is the caller\'s', () => {
  it("the same key from another caller (a service acting on Alice's session) is another request", async () => {
    const { alice, session } = await alicesConversation();
    const billing = await asService();
    const key = randomUUID();
    const first = await alice.append(session.id, [user('same body')], { headers: { 'Idempotency-Key': key } });
    const other = await billing.append(session.id, [user('same body')], { headers: { 'Idempotency-Key': key } });
    expect(first.status).toBe(201);
    expect(other.status).toBe(201);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(other.body.items[0].id).not.toBe(first.body.items[0].id);
  });

  it("Mallory cannot replay Alice's append by guessing her key", async () => {
    const { alice, session } = await alicesConversation();
    const mallory = await as(`mallory_${randomUUID()}`);
    const key = randomUUID();
    await alice.append(session.id, [user('private')], { headers: { 'Idempotency-Key': key } });
    expectProblem(await mallory.append(session.id, [user('private')], { headers: { 'Idempotency-Key': key } }), 404, 'not-found');
  });
});

describe('without a token', () => {
  it('every message route is a 401', async () => {
    const { session, done } = await alicesConversation();
    const anonymous = messagesOf(service);
    for (const response of [
      await anonymous.append(session.id, [user()]),
      await anonymous.list(session.id),
      await anonymous.get(session.id, done.id),
      await anonymous.patch(session.id, done.id, { metadata: { a: 1 } }),
      await anonymous.appendText(session.id, done.id, 'x'),
      await anonymous.remove(session.id, done.id),
    ]) {
      expectProblem(response, 401, 'unauthorized');
    }
  });
});
