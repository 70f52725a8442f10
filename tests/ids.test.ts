import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/ids.ts';

describe('ids are UUIDv7: time-ordered, so inserts land on the newest index pages', () => {
  it('is a UUID of version 7 and the RFC 9562 variant', () => {
    for (let i = 0; i < 1000; i++) {
      expect(uuidv7()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it('starts with the Unix time in milliseconds', () => {
    const now = Date.UTC(2026, 11, 1, 12, 34, 56, 789);
    const id = uuidv7(now);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
  });

  it('ids made later sort after ids made earlier', () => {
    const earlier = uuidv7(Date.now() - 1);
    expect(uuidv7() > earlier).toBe(true);
  });

  it('ids made in the same millisecond still differ', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => uuidv7(now)));
    expect(ids.size).toBe(10_000);
  });
});
