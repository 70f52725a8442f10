import { describe, expect, it } from 'vitest';
import { isoTimestamp } from '../src/db/pool.ts';

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
