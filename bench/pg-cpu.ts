/**
 * Why PostgreSQL spends more CPU per request under our service than under the floor, although
 * both send it the same statement (make bench checks that). Four servers, interleaved:
 *   floor                    bench/floor.ts as make bench runs it
 *   floor+slow               the floor spinning FLOOR_BURN_US (150) µs of CPU per request, about
 *                            what our service spends beyond the floor: as slow, same SQL
 *   floor+slow+DISCARD ALL   and sending `DISCARD ALL` on every release, as Slonik does by default
 *   ours                     dist/src/start.js
 * Writes bench/results/pg-cpu.{md,json}.
 *
 *   node bench/pg-cpu.ts          (BENCH_SCENARIOS — default get,list — BENCH_ROUNDS, BENCH_SECONDS as for make bench)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config, describeMachine, gitDescription, interleave, log, prepareDatabase, RESULTS, startOurs, warmUp } from './lib/common.ts';
import { loadFixtures } from './lib/fixtures.ts';
import type { Fixtures, ScenarioName } from './lib/load.ts';
import { freePort, startCluster } from './lib/postgres.ts';
import { OURS, summarise } from './lib/report.ts';
import { cleanUp, onCleanup, startServer } from './lib/servers.ts';

const BURN_US = Number(process.env.FLOOR_BURN_US ?? 150);
const only = process.env.BENCH_SCENARIOS?.split(',').map((name) => name.trim()).filter(Boolean) as ScenarioName[] | undefined;
const scenarios: ScenarioName[] = only ?? ['get', 'list'];
const variants: Array<[string, Record<string, string>]> = [
  ['floor', {}],
  ['floor+slow', { FLOOR_BURN_US: String(BURN_US) }],
  ['floor+slow+DISCARD ALL', { FLOOR_BURN_US: String(BURN_US), FLOOR_DISCARD_ALL: '1' }],
];

async function main(): Promise<void> {
  const cluster = await startCluster(log);
  onCleanup(() => cluster.stop());
  if (cluster.postmasterPid === undefined) throw new Error('PostgreSQL CPU cannot be read: run it with the embedded PostgreSQL');
  try {
    const { url } = await prepareDatabase(cluster, 'chat_sessions_pg_cpu', config.rows);
    const fixtures: Fixtures = { ...(await loadFixtures(url, config.users)), deepQueries: {} };
    const servers = [];
    for (const [name, env] of variants) {
      servers.push(
        (await startServer({ name, args: ['bench/floor.ts'], env: { DATABASE_URL: url, DB_POOL_SIZE: String(config.pool_size), ...env }, port: await freePort() })).server,
      );
    }
    servers.push((await startOurs(OURS, url)).server);
    await warmUp(servers, fixtures, cluster.postmasterPid);
    const runs = await interleave(scenarios, servers, fixtures, cluster.postmasterPid, () => url);
    const summary = summarise(runs);
    const names = servers.map((server) => server.name);
    const lines = [
      `# PostgreSQL CPU per request: what makes ours' higher — ${new Date().toISOString()}`,
      '',
      `Machine: ${Object.entries(describeMachine(cluster)).map(([key, value]) => `${key} ${value}`).join(', ')}. Code: ${gitDescription()}.`,
      `${config.rows.toLocaleString('en')} rows, ${config.connections} connections, ${config.rounds} rounds × ${config.seconds} s, interleaved; medians. ` +
        `"slow" = the floor spinning ${BURN_US} µs of CPU per request. × = against the plain floor.`,
      '',
      `| scenario | figure | ${names.join(' | ')} |`,
      `|---|---|${names.map(() => '--:').join('|')}|`,
    ];
    for (const scenario of scenarios) {
      for (const [label, key] of [
        ['req/s', 'rps'],
        ['p50 (ms)', 'p50_ms'],
        ['server CPU / request (ms)', 'server_cpu_ms_per_req'],
        ['PostgreSQL CPU / request (ms)', 'pg_cpu_ms_per_req'],
      ] as const) {
        const base = summary[scenario]?.floor?.[key];
        const cells = names.map((name) => {
          const value = summary[scenario]?.[name]?.[key];
          if (value == null) return 'n/a';
          return name === 'floor' || base == null ? String(value) : `${value} (×${(value / base).toFixed(2)})`;
        });
        lines.push(`| ${scenario} | ${label} | ${cells.join(' | ')} |`);
      }
    }
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'pg-cpu.json'), `${JSON.stringify({ date: new Date().toISOString(), config, burn_us: BURN_US, runs, summary }, null, 2)}\n`);
    writeFileSync(join(RESULTS, 'pg-cpu.md'), `${lines.join('\n')}\n`);
    console.log(`\n${lines.join('\n')}\n`);
  } finally {
    await cleanUp();
  }
}

await main();
