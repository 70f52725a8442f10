import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

const service = useTestService();

describe('GET /health', () => {
  it('answers 200 with the database status and its latency when the database is up', async () => {
    const response = await service.api.get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok', database: { status: 'ok' }, version: '1.0.0' });
    expect(response.body.database.latency_ms).toBeGreaterThanOrEqual(0);
  });
});

describe('GET /health/live', () => {
  it('answers 200 while the process runs', async () => {
    const response = await service.api.get('/health/live');
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('ok');
  });
});
