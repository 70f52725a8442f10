/**
 * Start-up of builds side by side: `node bench/startup.ts dist [dist-other …]` starts each
 * build's `src/start.js` in turn, BENCH_STARTUPS rounds (11), against one migrated database on a
 * quiet PostgreSQL (CHECKPOINT first), and prints each one's median, spread and the median of the
 * per-round ratios against the first, and the CPU the process had used by its first 200 and PostgreSQL's meanwhile (less
 * swayed by a busy machine than the wall clock). Build the others with `node scripts/build.ts dist-other`.
 */
import { config, log, startOurs } from './lib/common.ts';
import { startCluster, withClient } from './lib/postgres.ts';
import { cleanUp } from './lib/servers.ts';
import { median } from './lib/report.ts';
import { clusterCpuSeconds, processCpuSeconds } from './lib/procfs.ts';
import { quietDatabase, spread } from './lib/startup.ts';

const builds = process.argv.slice(2);
if (!builds.length) builds.push('dist');
const cluster = await startCluster(log);
try {
  const url = await cluster.createDatabase('chat_sessions_startup');
  await quietDatabase(url);
  await withClient(url, (client) => client.query('SELECT 1'));
  const samples: number[][] = builds.map(() => []);
  const cpu: number[][] = builds.map(() => []);
  const pgCpu: number[][] = builds.map(() => []);
  const pgSeconds = () => (cluster.postmasterPid ? clusterCpuSeconds(cluster.postmasterPid) : 0);
  for (let round = 0; round < (process.env.BENCH_STARTUPS ? config.startups : 11); round++) {
    const order = round % 2 === 0 ? builds.map((_, i) => i) : builds.map((_, i) => builds.length - 1 - i);
    for (const i of order) {
      const pgBefore = pgSeconds();
      const { server, startupMs } = await startOurs(`startup-${i}`, url, [], `${builds[i]}/src/start.js`);
      samples[i]!.push(Math.round(startupMs));
      cpu[i]!.push(Math.round(processCpuSeconds(server.pid) * 1000));
      pgCpu[i]!.push(Math.round((pgSeconds() - pgBefore) * 1000));
      await server.stop();
    }
  }
  builds.forEach((build, i) => {
    const ratios = samples[i]!.map((ms, round) => ms / samples[0]![round]!);
    log(`${build.padEnd(16)} median ${median(samples[i]!)} ms  ${spread(samples[i]!)}  ×${median(ratios).toFixed(2)} of ${builds[0]}  [${samples[i]!.join(', ')}]; CPU median ${median(cpu[i]!)} ms, PostgreSQL's ${median(pgCpu[i]!)} ms`);
  });
} finally {
  await cluster.stop();
  await cleanUp();
}
