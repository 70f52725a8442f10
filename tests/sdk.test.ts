/**
 * The typed client (src/client.ts: openapi-typescript + openapi-fetch) end to end against the
 * real server, the way another team would use it. Every response is also checked against
 * openapi.yaml (tests/support/checked-fetch.ts).
 */
import { describe, expect, it } from 'vitest';
import { createSessionsClient, type Message, type Problem, type Session } from '../src/client.ts';
import { checkedFetch } from './support/checked-fetch.ts';
import { useTestService } from './support/service.ts';
import { AUDIENCE, HS_SECRET, hsToken, ISSUER } from './support/tokens.ts';

const open = useTestService();
const secured = useTestService({ AUTH_MODE: 'jwt', JWT_SECRET: HS_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });

describe('the generated TypeScript client', () => {
  it('creates, reads, lists, updates and deletes a session', async () => {
    const api = createSessionsClient(open.origin, { fetch: checkedFetch });
    const user = `sdk_${Date.now()}`;

    const created = await api.POST('/sessions', {
      body: { user_id: user, title: '  Quarterly report  ', metadata: { model: 'gpt-4o', source: 'web' } },
      params: { header: { 'Idempotency-Key': `sdk-${user}` } },
    });
    expect(created.response.status).toBe(201);
    const session: Session = created.data!;
    expect(session).toMatchObject({ user_id: user, title: 'Quarterly report', status: 'active', is_active: true });
    expect(created.response.headers.get('location')).toBe(`/api/v1/sessions/${session.id}`);

    const replayed = await api.POST('/sessions', {
      body: { user_id: user, title: '  Quarterly report  ', metadata: { model: 'gpt-4o', source: 'web' } },
      params: { header: { 'Idempotency-Key': `sdk-${user}` } },
    });
    expect(replayed.data?.id).toBe(session.id);
    expect(replayed.response.headers.get('idempotent-replayed')).toBe('true');

    const read = await api.GET('/sessions/{id}', { params: { path: { id: session.id } } });
    expect(read.data).toEqual(session);

    // Arrays (status) and deepObject (metadata[source]) are serialised as the contract says.
    const page = await api.GET('/sessions', {
      params: { query: { user_id: user, status: ['active', 'archived'], metadata: { source: 'web' }, include_total: true, limit: 5 } },
    });
    expect(page.data?.items.map((item) => item.id)).toEqual([session.id]);
    expect(page.data?.total).toBe(1);

    const etag = read.response.headers.get('etag')!;
    const patched = await api.PATCH('/sessions/{id}', {
      params: { path: { id: session.id }, header: { 'If-Match': etag } },
      body: { status: 'archived', metadata: { source: null } },
    });
    expect(patched.data).toMatchObject({ status: 'archived', metadata: { model: 'gpt-4o' } });

    const stale = await api.PATCH('/sessions/{id}', {
      params: { path: { id: session.id }, header: { 'If-Match': etag } },
      body: { title: 'late' },
    });
    expect(stale.response.status).toBe(412);
    expect((stale.error as Problem).type).toBe('/problems/precondition-failed');

    const removed = await api.DELETE('/sessions/{id}', { params: { path: { id: session.id }, query: { hard: true } } });
    expect(removed.response.status).toBe(204);
    const gone = await api.GET('/sessions/{id}', { params: { path: { id: session.id } } });
    expect(gone.response.status).toBe(404);
    expect(gone.error?.type).toBe('/problems/not-found');
  });

  it('builds a chat: a user message, an answer streamed in deltas and completed with usage, the last 50 listed', async () => {
    const api = createSessionsClient(open.origin, { fetch: checkedFetch });
    const session = (await api.POST('/sessions', { body: { user_id: `sdk_chat_${Date.now()}`, title: 'Budget' } })).data!;
    const path = { id: session.id };

    const asked = await api.POST('/sessions/{id}/messages', {
      params: { path },
      body: { messages: [{ role: 'user', content: [{ type: 'text', text: 'What did we decide about the Q3 budget?' }] }] },
    });
    expect(asked.response.status).toBe(201);

    const started = await api.POST('/sessions/{id}/messages', {
      params: { path },
      body: { messages: [{ role: 'assistant', status: 'in_progress', model: 'gpt-4o', content: [] }] },
    });
    const answer: Message = started.data!.items[0]!;
    for (const text of ['It was approved ', 'on 12 September.']) {
      const delta = await api.POST('/sessions/{id}/messages/{message_id}/append', {
        params: { path: { ...path, message_id: answer.id } },
        body: { text },
      });
      expect(delta.data).toMatchObject({ id: answer.id, status: 'in_progress' });
    }
    const completed = await api.PATCH('/sessions/{id}/messages/{message_id}', {
      params: { path: { ...path, message_id: answer.id } },
      body: { status: 'completed', finish_reason: 'stop', usage: { input_tokens: 812, output_tokens: 9 } },
    });
    expect(completed.data).toMatchObject({
      status: 'completed',
      content: [{ type: 'text', text: 'It was approved on 12 September.' }],
      usage: { input_tokens: 812, output_tokens: 9 },
    });

    const page = await api.GET('/sessions/{id}/messages', { params: { path, query: { limit: 50 } } });
    expect(page.data?.items.map((message) => message.role)).toEqual(['assistant', 'user']);
    expect(page.data?.has_more).toBe(false);
    const read = await api.GET('/sessions/{id}', { params: { path } });
    expect(read.data).toMatchObject({ message_count: 2, last_message_at: answer.created_at });
  });

  it('validation problems come back typed, naming the field', async () => {
    const api = createSessionsClient(open.origin, { fetch: checkedFetch });
    const { error, response } = await api.POST('/sessions', { body: { user_id: 'has spaces' } });
    expect(response.status).toBe(400);
    expect(error?.errors?.[0]).toMatchObject({ in: 'body', pointer: '/user_id' });
  });

  it('sends a bearer token when given one; without it a secured server answers 401', async () => {
    const token = await hsToken({ sub: 'sdk_alice' });
    const api = createSessionsClient(secured.origin, { token, fetch: checkedFetch });
    const created = await api.POST('/sessions', { body: { title: 'mine' } });
    expect(created.response.status).toBe(201);
    expect(created.data?.user_id).toBe('sdk_alice');

    const anonymous = createSessionsClient(secured.origin, { fetch: checkedFetch });
    const refused = await anonymous.GET('/sessions/{id}', { params: { path: { id: created.data!.id } } });
    expect(refused.response.status).toBe(401);
    expect(refused.error?.type).toBe('/problems/unauthorized');
  });
});
