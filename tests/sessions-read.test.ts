import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { useTestService } from './support/service.ts';
import { expectInvalid, problemMembers } from './support/problems.ts';

const service = useTestService();

const rfc3339Utc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

async function createSession(body: Record<string, unknown> = {}) {
  const response = await service.api.post('/sessions', { user_id: `reader_${randomUUID()}`, ...body });
  expect(response.status, response.text).toBe(201);
  return response;
}

describe('GET /sessions/{id}: a session that exists', () => {
  it('answers 200 with the session exactly as it was created', async () => {
    const created = await createSession({ title: 'Read me', status: 'closed', metadata: { a: { b: [1, 2] } } });
    const response = await service.api.get(`/sessions/${created.body.id}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(created.body);
  });

  it('the session has every field of the resource and no other', async () => {
    const created = await createSession();
    const response = await service.api.get(`/sessions/${created.body.id}`);
    expect(Object.keys(response.body).sort()).toEqual(
      ['created_at', 'current_message_id', 'id', 'is_active', 'last_message_at', 'message_count', 'metadata', 'status', 'title', 'updated_at', 'user_id'].sort(),
    );
    expect(response.body.created_at).toMatch(rfc3339Utc);
    expect(response.body.updated_at).toMatch(rfc3339Utc);
  });

  it('answers with a strong ETag, the same as the create answered', async () => {
    const created = await createSession();
    const response = await service.api.get(`/sessions/${created.body.id}`);
    expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(response.headers.get('etag')).toBe(created.headers.get('etag'));
  });

  it('two reads without a write in between answer the same ETag', async () => {
    const created = await createSession();
    const first = await service.api.get(`/sessions/${created.body.id}`);
    const second = await service.api.get(`/sessions/${created.body.id}`);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
  });

  it('a session id given in upper case finds the same session', async () => {
    const created = await createSession();
    const response = await service.api.get(`/sessions/${String(created.body.id).toUpperCase()}`);
    expect(response.status).toBe(200);
    expect(response.body.id).toBe(created.body.id);
  });

  it('a soft-deleted session is still returned, with is_active false', async () => {
    const created = await createSession({ title: 'Deleted but readable' });
    expect((await service.api.delete(`/sessions/${created.body.id}`)).status).toBe(204);
    const response = await service.api.get(`/sessions/${created.body.id}`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: created.body.id, title: 'Deleted but readable', is_active: false });
  });

  it('reflects what is in the database, not a cached copy', async () => {
    const created = await createSession({ title: 'Before' });
    await withClient(service.databaseUrl, (client) =>
      client.query("UPDATE chat_sessions SET title = 'Changed behind the API' WHERE id = $1", [created.body.id]),
    );
    const response = await service.api.get(`/sessions/${created.body.id}`);
    expect(response.body.title).toBe('Changed behind the API');
  });

  it('text with SQL in it is returned verbatim', async () => {
    const title = "'; DROP TABLE chat_sessions; --";
    const created = await createSession({ title, metadata: { "'; --": "' OR 1=1 --" } });
    const response = await service.api.get(`/sessions/${created.body.id}`);
    expect(response.body.title).toBe(title);
    expect(response.body.metadata).toEqual({ "'; --": "' OR 1=1 --" });
  });
});

describe('GET /sessions/{id}: conditional reads', () => {
  it('If-None-Match with the current ETag is a 304 with no body', async () => {
    const created = await createSession();
    const etag = created.headers.get('etag')!;
    const response = await service.api.get(`/sessions/${created.body.id}`, { headers: { 'If-None-Match': etag } });
    expect(response.status).toBe(304);
    expect(response.text).toBe('');
  });

  it('a 304 carries the current ETag', async () => {
    const created = await createSession();
    const etag = created.headers.get('etag')!;
    const response = await service.api.get(`/sessions/${created.body.id}`, { headers: { 'If-None-Match': etag } });
    expect(response.status).toBe(304);
    expect(response.headers.get('etag')).toBe(etag);
  });

  it('If-None-Match with a list that contains the current ETag is a 304', async () => {
    const created = await createSession();
    const header = `"no-such-version", ${created.headers.get('etag')}`;
    const response = await service.api.get(`/sessions/${created.body.id}`, { headers: { 'If-None-Match': header } });
    expect(response.status).toBe(304);
  });

  it('If-None-Match uses the weak comparison: W/ plus the current ETag is a 304', async () => {
    const created = await createSession();
    const header = `W/${created.headers.get('etag')}`;
    const response = await service.api.get(`/sessions/${created.body.id}`, { headers: { 'If-None-Match': header } });
    expect(response.status).toBe(304);
  });

  it('If-None-Match: * on an existing session is a 304', async () => {
    const created = await createSession();
    const response = await service.api.get(`/sessions/${created.body.id}`, { headers: { 'If-None-Match': '*' } });
    expect(response.status).toBe(304);
  });

  it('If-None-Match on an unknown id is still a 404', async () => {
    const response = await service.api.get(`/sessions/${randomUUID()}`, { headers: { 'If-None-Match': '*' } });
    expect(response.status).toBe(404);
  });

  it('If-None-Match with an outdated ETag is a 200 with the session and its new ETag', async () => {
    const created = await createSession();
    const old = created.headers.get('etag')!;
    await service.api.patch(`/sessions/${created.body.id}`, { title: 'Changed' });
    const response = await service.api.get(`/sessions/${created.body.id}`, { headers: { 'If-None-Match': old } });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe('Changed');
    expect(response.headers.get('etag')).not.toBe(old);
  });
});

describe('GET /sessions/{id}: a session that does not exist', () => {
  it('an unknown id is a 404 not-found problem', async () => {
    const id = randomUUID();
    const response = await service.api.get(`/sessions/${id}`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: '/problems/not-found', status: 404, instance: `/api/v1/sessions/${id}` });
  });

  it('a hard-deleted session is a 404', async () => {
    const created = await createSession();
    expect((await service.api.delete(`/sessions/${created.body.id}?hard=true`)).status).toBe(204);
    expect((await service.api.get(`/sessions/${created.body.id}`)).status).toBe(404);
  });

  it('the nil UUID is a well-formed id and so a 404, not a 400', async () => {
    const response = await service.api.get('/sessions/00000000-0000-0000-0000-000000000000');
    expect(response.status).toBe(404);
  });

  it('a 404 problem carries type, title, status, detail, instance, error, timestamp and request_id', async () => {
    const id = randomUUID();
    const response = await service.api.get(`/sessions/${id}`, { headers: { 'X-Request-Id': 'read-404-test' } });
    expect(Object.keys(response.body)).toEqual(expect.arrayContaining(problemMembers));
    expect(response.body).toMatchObject({
      type: '/problems/not-found',
      title: 'Not found',
      status: 404,
      instance: `/api/v1/sessions/${id}`,
      error: 'Not found',
      request_id: 'read-404-test',
    });
    expect(response.body.detail).toContain(id);
    expect(response.body.timestamp).toMatch(rfc3339Utc);
  });
});

describe('GET /sessions/{id}: a malformed id', () => {
  it.each([
    ['a word', 'not-a-uuid'],
    ['a number', '12345'],
    ['a UUID without hyphens', '3f1c2a9e8b7d4c6e9f102a3b4c5d6e7f'],
    ['a UUID with a non-hex digit', '3f1c2a9e-8b7d-4c6e-9f10-2a3b4c5d6e7g'],
    ['a UUID one digit short', '3f1c2a9e-8b7d-4c6e-9f10-2a3b4c5d6e7'],
    ['a UUID one digit long', '3f1c2a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f0'],
    ['a UUID in braces', '%7B3f1c2a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f%7D'],
    ['SQL-looking text', encodeURIComponent("' OR '1'='1")],
    ['an encoded NUL character', '3f1c2a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f%00'],
  ])('%s as id is a 400 naming /id in path', async (_name, id) => {
    expectInvalid(await service.api.get(`/sessions/${id}`), { in: 'path', pointer: '/id', message: /uuid/i });
  });

  it('a 400 for a malformed id carries the full problem shape and exactly one errors[] entry {in, pointer, message}', async () => {
    const response = await service.api.get('/sessions/nope');
    expect(Object.keys(response.body)).toEqual(expect.arrayContaining([...problemMembers, 'errors']));
    expect(response.body).toMatchObject({
      type: '/problems/validation-failed',
      title: 'Validation failed',
      status: 400,
      instance: '/api/v1/sessions/nope',
      error: 'Validation failed',
    });
    expect(response.body.errors).toEqual([{ in: 'path', pointer: '/id', message: expect.any(String) }]);
  });
});
