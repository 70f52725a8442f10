/** Inputs built to break parsers and recursive code: they get 4xx answers, never a 500. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

const service = useTestService();
const DEPTH = 10_000; // ~60 KB of nesting, under the 64 KiB body limit
const deepObject = `${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}`;
const deepArray = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;

async function createSession() {
  return (await service.api.post('/sessions', { user_id: `hostile_${randomUUID()}` })).body.id as string;
}

describe('deeply nested JSON', () => {
  it('metadata nested 10,000 levels deep on create is a 400 naming /metadata', async () => {
    const response = await service.api.request('POST', '/sessions', {
      raw: `{"user_id":"hostile","metadata":${deepObject}}`,
      contentType: 'application/json',
    });
    expect(response.status).toBe(400);
    expect(response.body.errors[0].pointer).toMatch(/^\/metadata\//);
  });

  it('the same with an Idempotency-Key is a 400 too', async () => {
    const response = await service.api.request('POST', '/sessions', {
      raw: `{"user_id":"hostile","metadata":${deepObject}}`,
      contentType: 'application/json',
      headers: { 'Idempotency-Key': randomUUID() },
    });
    expect(response.status).toBe(400);
  });

  it('a metadata patch nested 10,000 levels deep is a 400', async () => {
    const id = await createSession();
    const response = await service.api.request('PATCH', `/sessions/${id}`, {
      raw: `{"metadata":${deepObject}}`,
      contentType: 'application/merge-patch+json',
    });
    expect(response.status).toBe(400);
  });

  it('a metadata patch holding deeply nested arrays is a 400', async () => {
    const id = await createSession();
    const response = await service.api.request('PATCH', `/sessions/${id}`, {
      raw: `{"metadata":{"a":${deepArray}}}`,
      contentType: 'application/merge-patch+json',
    });
    expect(response.status).toBe(400);
  });

  it('a deeply nested value in an unknown field or a title is a 400', async () => {
    for (const field of ['x', 'title']) {
      const response = await service.api.request('POST', '/sessions', {
        raw: `{"user_id":"hostile","${field}":${deepArray}}`,
        contentType: 'application/json',
      });
      expect(response.status, field).toBe(400);
    }
  });
});
