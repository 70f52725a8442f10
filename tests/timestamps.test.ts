import { describe, expect, it } from 'vitest';
import { isoTimestamp } from '../src/db/pool.ts';
import { createTestDatabase, withClient } from './support/database.ts';
import { startInstance } from './support/service.ts';

describe('timestamptz values become the contract’s date-time (ISO 8601, UTC, milliseconds)', () => {
  it.each([
    ['2026-11-25 12:34:56.789+00', '2026-11-25T12:34:56.789Z'],
    ['2026-11-25 12:34:56.7+00', '2026-11-25T12:34:56.700Z'],
    ['2026-11-25 12:34:56.78+00', '2026-11-25T12:34:56.780Z'],
    ['2026-11-25 12:34:56+00', '2026-11-25T12:34:56.000Z'],
    ['2026-11-25 12:34:56.123456+00', '2026-11-25T12:34:56.123Z'],
  ])('UTC text %s is rearranged into %s', (text, iso) => {
    expect(isoTimestamp(text)).toBe(iso);
  });

  it('text in another time zone is converted to UTC', () => {
    expect(isoTimestamp('2026-11-25 18:04:56.789+05:30')).toBe('2026-11-25T12:34:56.789Z');
  });

  it('the rearranged text is the instant Date makes of it', () => {
    const text = '1999-12-31 23:59:59.999+00';
    expect(isoTimestamp(text)).toBe(new Date(Date.parse(text)).toISOString());
  });
});

describe('a database whose TimeZone is not UTC', () => {
  it('still gives every timestamp in UTC, the instant PostgreSQL stored', async () => {
    const database = await createTestDatabase();
    const name = new URL(database.url).pathname.slice(1);
    await withClient(database.url, (client) => client.query(`ALTER DATABASE ${name} SET timezone TO 'Asia/Kolkata'`));
    const service = await startInstance(database.url);
    try {
      const created = await service.api.post('/sessions', { user_id: 'tz', title: 'zoned' });
      expect(created.status).toBe(201);
      expect(created.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const stored = await withClient(database.url, async (client) => {
        const { rows } = await client.query(`SELECT current_setting('TimeZone') AS zone, created_at FROM chat_sessions WHERE id = $1`, [created.body.id]);
        return rows[0] as { zone: string; created_at: Date };
      });
      expect(stored.zone).toBe('Asia/Kolkata');
      expect(created.body.created_at).toBe(stored.created_at.toISOString());
      expect((await service.api.get(`/sessions/${created.body.id}`)).body.created_at).toBe(created.body.created_at);
    } finally {
      await service.stop();
      await database.drop();
    }
  });
});
