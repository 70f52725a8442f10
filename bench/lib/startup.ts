/** What start-up samples share: a quiet database, and how far the samples spread. */
import { withClient } from './postgres.ts';

/**
 * Start-up is measured against an idle PostgreSQL, as a restart finds it: right after seeding or
 * copying a database it is still writing dirty buffers and its autovacuum is busy, which made
 * the samples 100 ms apart from one start to the next. VACUUM (the visibility map, hint bits)
 * then CHECKPOINT (the dirty buffers written now, not during the samples).
 */
export async function quietDatabase(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('VACUUM (ANALYZE)');
    await client.query('CHECKPOINT');
  });
}

/** min–max and the interquartile range, in ms. */
export function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
  return `min ${at(0)} max ${at(1)} IQR ${at(0.25)}–${at(0.75)}`;
}
