/**
 * Issue 13: "a 100,000-message session exports with flat memory". The service runs as its own
 * process; its peak RSS (VmHWM, reset before each export) while exporting a session of 100,000
 * messages must stay within 1.2× of its peak while exporting one of 1,000: the export streams
 * page by page, whatever the session's length.
 *
 * The service runs with V8 sized as docs/operations.md advises for a container
 * (--max-semi-space-size=4 --max-old-space-size=128). Without a limit V8 lets its heap grow
 * before it collects, to a plateau (measured here: 184 MB at 1,000, 345 MB at 100,000, then 347
 * and 357 MB for the same export again and 354 MB for 10,000 after it): the garbage of pages
 * already sent, not anything the export keeps. With the limit that garbage is collected.
 */
const V8_SIZING = '--max-semi-space-size=4 --max-old-space-size=128';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetPeakRss } from '../bench/lib/procfs.ts';
import { type ChildService, spawnService } from './support/child-service.ts';
import { createTestDatabase } from './support/database.ts';
import { measureExport, seedSession } from '../bench/lib/export.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let service: ChildService;
let origin: string;

beforeAll(async () => {
  database = await createTestDatabase();
  service = spawnService({ DATABASE_URL: database.url, NODE_OPTIONS: V8_SIZING });
  origin = await service.ready;
}, 60_000);

afterAll(async () => {
  service?.process.kill('SIGTERM');
  await service?.exited;
  await database?.drop();
});

describe('export memory', () => {
  it('peak RSS exporting 100,000 messages is at most 1.2× that of 1,000', async () => {
    const small = await seedSession(database.url, 1_000);
    const large = await seedSession(database.url, 100_000);
    const pid = service.process.pid!;
    expect(resetPeakRss(pid), 'clear_refs must be writable to measure a peak').toBe(true);
    // Warm-up: the code paths compiled and the pool's connections open before anything is measured.
    await measureExport(origin, pid, small, 1_000);
    const thousand = await measureExport(origin, pid, small, 1_000);
    const hundredThousand = await measureExport(origin, pid, large, 100_000);
    const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
    console.log(
      `export peak RSS: ${mb(thousand.peakRssBytes)} MB at 1,000 messages (${mb(thousand.bytes)} MB), ` +
        `${mb(hundredThousand.peakRssBytes)} MB at 100,000 (${mb(hundredThousand.bytes)} MB in ${hundredThousand.seconds.toFixed(1)} s): ` +
        `${(hundredThousand.peakRssBytes / thousand.peakRssBytes).toFixed(2)}×`,
    );
    expect(hundredThousand.peakRssBytes).toBeLessThanOrEqual(thousand.peakRssBytes * 1.2);
  }, 180_000);
});
