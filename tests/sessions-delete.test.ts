import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { useTestService } from './support/service.ts';
import { expectInvalid, problemMembers } from './support/problems.ts';

const service = useTestService();


async function createSession(body: Record<string, unknown> = {}) {
  const response = await service.api.post('/sessions', { user_id: `deleter_${randomUUID()}`, ...body });
  expect(response.status, response.text).toBe(201);
  return response;
}

const remove = (id: string, options: { hard?: string; headers?: Record<string, string> } = {}) =>
  service.api.delete(`/sessions/${id}${options.hard === undefined ? '' : `?hard=${options.hard}`}`, options.headers ? { headers: options.headers } : {});

async function storedRow(id: string) {
  return withClient(service.databaseUrl, async (client) => {
    const result = await client.query('SELECT is_active, updated_at, created_at FROM chat_sessions WHERE id = $1', [id]);
    return result.rows[0] as { is_active: boolean; updated_at: Date; created_at: Date } | undefined;
  });
}

describe('DELETE /sessions/{id}: soft delete (the default)', () => {
  it('answers 204 with no body', async () => {
    const { body: session } = await createSession();
    const response = await remove(session.id);
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
  });

  it('sets is_active to false and GET still returns the session', async () => {
    const { body: session } = await createSession({ title: 'Soft', metadata: { a: 1 } });
    await remove(session.id);
    const response = await service.api.get(`/sessions/${session.id}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ ...session, is_active: false, updated_at: response.body.updated_at });
  });

  it('keeps the row in the database with is_active false', async () => {
    const { body: session } = await createSession();
    await remove(session.id);
    expect((await storedRow(session.id))?.is_active).toBe(false);
  });

  it('hard=false is a soft delete', async () => {
    const { body: session } = await createSession();
    expect((await remove(session.id, { hard: 'false' })).status).toBe(204);
    expect((await service.api.get(`/sessions/${session.id}`)).body.is_active).toBe(false);
  });

  it('soft-deleting twice answers 204 both times', async () => {
    const { body: session } = await createSession();
    expect((await remove(session.id)).status).toBe(204);
    expect((await remove(session.id)).status).toBe(204);
    expect((await service.api.get(`/sessions/${session.id}`)).body.is_active).toBe(false);
  });

  it('a soft delete changes updated_at but not created_at', async () => {
    const { body: session } = await createSession();
    await remove(session.id);
    const response = await service.api.get(`/sessions/${session.id}`);
    expect(response.body.created_at).toBe(session.created_at);
    expect(Date.parse(response.body.updated_at)).toBeGreaterThan(Date.parse(session.updated_at));
  });

  it('a soft delete changes the ETag', async () => {
    const created = await createSession();
    await remove(created.body.id);
    const response = await service.api.get(`/sessions/${created.body.id}`);
    expect(response.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(response.headers.get('etag')).not.toBe(created.headers.get('etag'));
  });

  it('a soft-deleted session can be restored with PATCH is_active: true', async () => {
    const { body: session } = await createSession();
    await remove(session.id);
    const response = await service.api.patch(`/sessions/${session.id}`, { is_active: true });
    expect(response.status).toBe(200);
    expect(response.body.is_active).toBe(true);
  });

  it('deleting one session leaves the others alone', async () => {
    const { body: kept } = await createSession();
    const { body: gone } = await createSession();
    await remove(gone.id);
    expect((await service.api.get(`/sessions/${kept.id}`)).body.is_active).toBe(true);
  });
});

describe('DELETE /sessions/{id}?hard=true', () => {
  it('answers 204 with no body', async () => {
    const { body: session } = await createSession();
    const response = await remove(session.id, { hard: 'true' });
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
  });

  it('removes the session for good: GET is then a 404', async () => {
    const { body: session } = await createSession();
    await remove(session.id, { hard: 'true' });
    const response = await service.api.get(`/sessions/${session.id}`);
    expect(response.status).toBe(404);
    expect(response.body.type).toBe('/problems/not-found');
  });

  it('removes the row from chat_sessions', async () => {
    const { body: session } = await createSession();
    await remove(session.id, { hard: 'true' });
    expect(await storedRow(session.id)).toBeUndefined();
  });

  it('removes a session that was already soft-deleted', async () => {
    const { body: session } = await createSession();
    await remove(session.id);
    expect((await remove(session.id, { hard: 'true' })).status).toBe(204);
    expect(await storedRow(session.id)).toBeUndefined();
  });

  it('hard-deleting twice is a 404 the second time', async () => {
    const { body: session } = await createSession();
    expect((await remove(session.id, { hard: 'true' })).status).toBe(204);
    expect((await remove(session.id, { hard: 'true' })).status).toBe(404);
  });

  it('a soft delete after a hard delete is a 404', async () => {
    const { body: session } = await createSession();
    await remove(session.id, { hard: 'true' });
    expect((await remove(session.id)).status).toBe(404);
  });

  it('a hard value that is not a boolean is a 400 naming hard in query', async () => {
    const { body: session } = await createSession();
    expectInvalid(await remove(session.id, { hard: 'maybe' }), { in: 'query', pointer: '/hard' });
    expect((await storedRow(session.id))?.is_active).toBe(true);
  });

  it('a session with a SQL-looking title is deleted like any other and the table still exists', async () => {
    const { body: session } = await createSession({ title: "'; DROP TABLE chat_sessions; --" });
    expect((await remove(session.id, { hard: 'true' })).status).toBe(204);
    const table = await withClient(service.databaseUrl, async (client) =>
      (await client.query("SELECT to_regclass('public.chat_sessions') AS name")).rows[0].name,
    );
    expect(table).toBe('chat_sessions');
  });
});

describe('DELETE /sessions/{id}: which session', () => {
  it('an unknown id is a 404 not-found problem', async () => {
    const id = randomUUID();
    const response = await remove(id);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: '/problems/not-found', status: 404, instance: `/api/v1/sessions/${id}` });
  });

  it('an unknown id with hard=true is a 404 not-found problem', async () => {
    const response = await remove(randomUUID(), { hard: 'true' });
    expect(response.status).toBe(404);
    expect(response.body.type).toBe('/problems/not-found');
  });

  it('a malformed id is a 400 naming /id in path', async () => {
    expectInvalid(await remove('not-a-uuid'), { in: 'path', pointer: '/id' });
  });

  it('a malformed id with hard=true is a 400 naming /id in path', async () => {
    expectInvalid(await remove(encodeURIComponent("1; DELETE FROM chat_sessions"), { hard: 'true' }), { in: 'path', pointer: '/id' });
  });

  it('a 404 problem carries type, title, status, detail, instance, error, timestamp and request_id', async () => {
    const id = randomUUID();
    const response = await remove(id, { headers: { 'X-Request-Id': 'delete-404' } });
    expect(Object.keys(response.body)).toEqual(expect.arrayContaining(problemMembers));
    expect(response.body).toMatchObject({ title: 'Not found', error: 'Not found', status: 404, request_id: 'delete-404' });
    expect(response.body.detail).toContain(id);
  });
});

describe('DELETE /sessions/{id}: If-Match', () => {
  it('If-Match with the current ETag deletes the session', async () => {
    const created = await createSession();
    const response = await remove(created.body.id, { headers: { 'If-Match': created.headers.get('etag')! } });
    expect(response.status).toBe(204);
    expect((await storedRow(created.body.id))?.is_active).toBe(false);
  });

  it('If-Match: * deletes an existing session', async () => {
    const created = await createSession();
    expect((await remove(created.body.id, { headers: { 'If-Match': '*' } })).status).toBe(204);
  });

  it('If-Match with an outdated ETag is a 412 problem and the session stays active', async () => {
    const created = await createSession();
    const stale = created.headers.get('etag')!;
    expect((await service.api.patch(`/sessions/${created.body.id}`, { title: 'Changed since' })).status).toBe(200);
    const response = await remove(created.body.id, { headers: { 'If-Match': stale } });
    expect(response.status).toBe(412);
    expect(response.body.type).toBe('/problems/precondition-failed');
    expect((await storedRow(created.body.id))?.is_active).toBe(true);
  });

  it('If-Match on an unknown id is a 404, not a 412', async () => {
    expect((await remove(randomUUID(), { headers: { 'If-Match': '"1"' } })).status).toBe(404);
  });

  it('If-Match with an outdated ETag on a hard delete is a 412 and the row stays', async () => {
    const created = await createSession();
    const stale = created.headers.get('etag')!;
    await service.api.patch(`/sessions/${created.body.id}`, { title: 'Changed since' });
    const response = await remove(created.body.id, { hard: 'true', headers: { 'If-Match': stale } });
    expect(response.status).toBe(412);
    expect(await storedRow(created.body.id)).toBeDefined();
  });
});
