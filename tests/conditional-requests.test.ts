import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();

async function createSession(title = 'conditional') {
  const response = await service.api.post('/sessions', { user_id: 'etag_user', title });
  expect(response.status).toBe(201);
  return { id: response.body.id as string, etag: response.headers.get('etag')! };
}

describe('ETags', () => {
  it('create, get and patch carry the same strong ETag for the same version', async () => {
    const { id, etag } = await createSession();
    expect(etag).toMatch(/^"[^"]+"$/);
    expect((await service.api.get(`/sessions/${id}`)).headers.get('etag')).toBe(etag);
  });

  it('every write changes the ETag, even two within the same millisecond', async () => {
    const { id, etag } = await createSession();
    const first = await service.api.patch(`/sessions/${id}`, { title: 'one' });
    const second = await service.api.patch(`/sessions/${id}`, { title: 'one' });
    const tags = [etag, first.headers.get('etag'), second.headers.get('etag')];
    expect(new Set(tags).size).toBe(3);
    expect(Date.parse(second.body.updated_at)).toBeGreaterThan(Date.parse(first.body.updated_at));
  });

  it('the ETag is derived from the version the database bumps on every write', async () => {
    const { id, etag } = await createSession();
    await withClient(service.databaseUrl, (client) =>
      client.query('UPDATE chat_sessions SET version = version + 1 WHERE id = $1', [id]),
    );
    expect((await service.api.get(`/sessions/${id}`)).headers.get('etag')).not.toBe(etag);
  });
});

describe('If-None-Match on GET', () => {
  it('answers 304 with the ETag and no body when the ETag matches', async () => {
    const { id, etag } = await createSession();
    const response = await service.api.get(`/sessions/${id}`, { headers: { 'If-None-Match': etag } });
    expect(response.status).toBe(304);
    expect(response.text).toBe('');
    expect(response.headers.get('etag')).toBe(etag);
  });

  it('answers 304 for * and for a list that contains the ETag', async () => {
    const { id, etag } = await createSession();
    for (const header of ['*', `"0", ${etag}`]) {
      expect((await service.api.get(`/sessions/${id}`, { headers: { 'If-None-Match': header } })).status).toBe(304);
    }
  });

  it('compares weakly: W/ of the current ETag still answers 304', async () => {
    const { id, etag } = await createSession();
    const response = await service.api.get(`/sessions/${id}`, { headers: { 'If-None-Match': `W/${etag}` } });
    expect(response.status).toBe(304);
  });

  it('answers 200 with the session when the ETag is stale', async () => {
    const { id, etag } = await createSession();
    await service.api.patch(`/sessions/${id}`, { title: 'changed' });
    const response = await service.api.get(`/sessions/${id}`, { headers: { 'If-None-Match': etag } });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe('changed');
  });

  it('a malformed If-None-Match is a 400 naming the header', async () => {
    const { id } = await createSession();
    const response = await service.api.get(`/sessions/${id}`, { headers: { 'If-None-Match': 'not-quoted' } });
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toMatchObject({ in: 'header', pointer: '/if-none-match' });
  });

  it('an unknown session is still a 404 whatever If-None-Match says', async () => {
    const response = await service.api.get('/sessions/00000000-0000-4000-8000-000000000000', {
      headers: { 'If-None-Match': '*' },
    });
    expect(response.status).toBe(404);
  });
});

describe('If-Match on PATCH', () => {
  it('applies the patch when the ETag matches and returns the new ETag', async () => {
    const { id, etag } = await createSession();
    const response = await service.api.patch(`/sessions/${id}`, { title: 'matched' }, { headers: { 'If-Match': etag } });
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).not.toBe(etag);
  });

  it('is a 412 with the current ETag when the ETag is stale, and changes nothing', async () => {
    const { id, etag } = await createSession('before');
    const current = (await service.api.patch(`/sessions/${id}`, { status: 'archived' })).headers.get('etag');
    const response = await service.api.patch(`/sessions/${id}`, { title: 'lost' }, { headers: { 'If-Match': etag } });
    expect(response.status).toBe(412);
    expect(response.body.type).toBe('/problems/precondition-failed');
    expect(response.headers.get('etag')).toBe(current);
    expect((await service.api.get(`/sessions/${id}`)).body.title).toBe('before');
  });

  it('is a 412 on a metadata merge with a stale ETag, and merges nothing', async () => {
    const { id, etag } = await createSession();
    await service.api.patch(`/sessions/${id}`, { title: 'moved on' });
    const response = await service.api.patch(`/sessions/${id}`, { metadata: { a: 1 } }, { headers: { 'If-Match': etag } });
    expect(response.status).toBe(412);
    expect((await service.api.get(`/sessions/${id}`)).body.metadata).toEqual({});
  });

  it('* matches any existing session', async () => {
    const { id } = await createSession();
    const response = await service.api.patch(`/sessions/${id}`, { title: 'any' }, { headers: { 'If-Match': '*' } });
    expect(response.status).toBe(200);
  });

  it('a weak validator never matches', async () => {
    const { id, etag } = await createSession();
    const response = await service.api.patch(`/sessions/${id}`, { title: 'weak' }, { headers: { 'If-Match': `W/${etag}` } });
    expect(response.status).toBe(412);
  });

  it('matches when the current ETag is one of a list', async () => {
    const { id, etag } = await createSession();
    const response = await service.api.patch(`/sessions/${id}`, { title: 'listed' }, { headers: { 'If-Match': `"999", ${etag}` } });
    expect(response.status).toBe(200);
  });

  it('an unknown session is a 404 even with If-Match: *', async () => {
    const response = await service.api.patch(
      '/sessions/00000000-0000-4000-8000-000000000000',
      { title: 'x' },
      { headers: { 'If-Match': '*' } },
    );
    expect(response.status).toBe(404);
  });

  it('a malformed If-Match is a 400 naming the header', async () => {
    const { id } = await createSession();
    const response = await service.api.patch(`/sessions/${id}`, { title: 'x' }, { headers: { 'If-Match': '3' } });
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toMatchObject({ in: 'header', pointer: '/if-match' });
  });
});

describe('If-Match on DELETE', () => {
  it('soft-deletes when the ETag matches', async () => {
    const { id, etag } = await createSession();
    expect((await service.api.delete(`/sessions/${id}`, { headers: { 'If-Match': etag } })).status).toBe(204);
    expect((await service.api.get(`/sessions/${id}`)).body.is_active).toBe(false);
  });

  it('is a 412 when the ETag is stale, and the session stays active', async () => {
    const { id, etag } = await createSession();
    await service.api.patch(`/sessions/${id}`, { title: 'newer' });
    const response = await service.api.delete(`/sessions/${id}`, { headers: { 'If-Match': etag } });
    expect(response.status).toBe(412);
    expect((await service.api.get(`/sessions/${id}`)).body.is_active).toBe(true);
  });

  it('hard-deletes only when the ETag matches', async () => {
    const { id, etag } = await createSession();
    const stale = await service.api.delete(`/sessions/${id}?hard=true`, { headers: { 'If-Match': '"999"' } });
    expect(stale.status).toBe(412);
    expect((await service.api.delete(`/sessions/${id}?hard=true`, { headers: { 'If-Match': etag } })).status).toBe(204);
    expect((await service.api.get(`/sessions/${id}`)).status).toBe(404);
  });

  it('soft-deleting an already deleted session with its current ETag is still a 204', async () => {
    const { id } = await createSession();
    await service.api.delete(`/sessions/${id}`);
    const etag = (await service.api.get(`/sessions/${id}`)).headers.get('etag')!;
    expect((await service.api.delete(`/sessions/${id}`, { headers: { 'If-Match': etag } })).status).toBe(204);
  });
});
