/**
 * make bench, the export step (issue 13): `GET /sessions/{id}/export` of a 10,000-message session
 * (export-10k: seconds, MB/s and messages/s, median of BENCH_ROUNDS), and the flatness of its
 * memory — the service's peak RSS (VmHWM, reset before each export) at 1,000 and at 100,000
 * messages, the target being ≤ 1.2×. The production build (dist/), V8 sized as
 * docs/operations.md advises for a container; its own database, seeded in SQL
 * (bench/lib/export.ts). BENCH_EXPORT_LARGE sets the large session's size (100000).
 * Writes bench/results/export.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config, log, startOurs } from './lib/common.ts';
import { type ExportRun, measureExport, seedSession } from './lib/export.ts';
import { startCluster } from './lib/postgres.ts';
import { cleanUp, onCleanup, ROOT } from './lib/servers.ts';

const V8_SIZING = ['--max-semi-space-size=4', '--max-old-space-size=128'];
const large = Number(process.env.BENCH_EXPORT_LARGE ?? 100_000);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

async function main(): Promise<void> {
  const cluster = await startCluster(log);
  onCleanup(() => cluster.stop());
  try {
    const url = await cluster.createDatabase('chat_sessions_bench_export');
    const { server } = await startOurs('ours-export', url, V8_SIZING); // migrates the database
    const sizes = { small: 1_000, ten: 10_000, large };
    log(`seeding sessions of ${Object.values(sizes).map((n) => n.toLocaleString('en')).join(', ')} messages…`);
    const ids = { small: await seedSession(url, sizes.small), ten: await seedSession(url, sizes.ten), large: await seedSession(url, sizes.large) };
    await measureExport(server.url, server.pid, ids.small, sizes.small); // warm-up
    const rounds: ExportRun[] = [];
    for (let round = 0; round < config.rounds; round++) rounds.push(await measureExport(server.url, server.pid, ids.ten, sizes.ten));
    const seconds = median(rounds.map((run) => run.seconds));
    const exportTen = {
      messages: sizes.ten,
      mb: mb(rounds[0]!.bytes),
      seconds_median: Math.round(seconds * 1000) / 1000,
      mb_per_s: Math.round((rounds[0]!.bytes / 2 ** 20 / seconds) * 10) / 10,
      messages_per_s: Math.round(sizes.ten / seconds),
      rounds: rounds.map((run) => Math.round(run.seconds * 1000) / 1000),
    };
    log(`export-10k: ${exportTen.seconds_median} s median (${exportTen.mb} MB: ${exportTen.mb_per_s} MB/s, ${exportTen.messages_per_s} messages/s) over ${config.rounds} rounds`);
    const peakSmall = await measureExport(server.url, server.pid, ids.small, sizes.small);
    const peakLarge = await measureExport(server.url, server.pid, ids.large, sizes.large);
    const ratio = Math.round((peakLarge.peakRssBytes / peakSmall.peakRssBytes) * 100) / 100;
    const memory = {
      v8: V8_SIZING.join(' '),
      peak_rss_mb: { [sizes.small]: mb(peakSmall.peakRssBytes), [sizes.large]: mb(peakLarge.peakRssBytes) },
      ratio,
      target: 1.2,
      met: ratio <= 1.2,
      large_export: { mb: mb(peakLarge.bytes), seconds: Math.round(peakLarge.seconds * 10) / 10 },
    };
    log(`export memory: peak RSS ${memory.peak_rss_mb[sizes.small]} MB at ${sizes.small.toLocaleString('en')} messages, ${memory.peak_rss_mb[sizes.large]} MB at ${sizes.large.toLocaleString('en')}: ${ratio}× (target ≤ 1.2×: ${memory.met ? 'met' : 'MISSED'})`);
    const file = join(ROOT, 'bench', 'results', 'export.json');
    writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), export_10k: exportTen, memory }, null, 2)}\n`);
    log(`wrote ${file}`);
  } finally {
    await cleanUp();
  }
}

await main();
