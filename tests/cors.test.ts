import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

const service = useTestService({ CORS_ORIGINS: 'https://app.example, https://admin.example' });

describe('CORS with CORS_ORIGINS set', () => {
  it('allows a listed origin and exposes ETag, Location and X-Request-Id', async () => {
    const response = await service.api.get('/health/live', { headers: { Origin: 'https://app.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const exposed = response.headers.get('access-control-expose-headers') ?? '';
    for (const header of ['ETag', 'Location', 'X-Request-Id']) expect(exposed).toContain(header);
  });

  it('sends no CORS headers to an origin that is not listed', async () => {
    const response = await service.api.get('/health/live', { headers: { Origin: 'https://evil.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a preflight with the allowed methods and headers', async () => {
    const response = await fetch(`${service.origin}/api/v1/sessions`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://admin.example',
        'Access-Control-Request-Method': 'PATCH',
        'Access-Control-Request-Headers': 'if-match, content-type',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://admin.example');
    const allowed = response.headers.get('access-control-allow-headers') ?? '';
    for (const header of ['If-Match', 'If-None-Match', 'Idempotency-Key', 'Content-Type', 'Authorization', 'X-Request-Id']) {
      expect(allowed).toContain(header);
    }
  });

  it('keeps CORS headers on problem responses', async () => {
    const response = await service.api.get('/nowhere', { headers: { Origin: 'https://app.example' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });
});
