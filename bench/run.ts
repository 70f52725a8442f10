/**
 * `make bench`: our service against a floor (bench/floor.ts: bare node:http + pg issuing the
 * same SQL), on a real, seeded PostgreSQL, scenario by scenario, interleaved. Writes
 * bench/results/latest.{md,json} (BENCH_SCALE=1: bench/results/scale.{md,json} instead).
 *
 * Environment (all optional):
 *   BENCH_DATABASE_URL  a PostgreSQL server where the user may create databases (default: embedded)
 *   BENCH_ROWS          sessions to seed (100000)            BENCH_USERS        users (1000)
 *   BENCH_SECONDS       measured seconds per run (5)         BENCH_WARMUP       warm-up seconds per run (1)
 *   BENCH_ROUNDS        interleaved rounds per scenario (3)  BENCH_CONNECTIONS  autocannon connections (16)
 *   BENCH_SCENARIOS     comma-separated subset of get,list,list-deep,create,patch,mix,
 *                       append-1k,list-latest-10k,list-latest-100,stream-delta
 *   BENCH_MESSAGES      messages to seed for the message scenarios (1000000; 0 skips those scenarios)
 *   BENCH_MESSAGE_SESSIONS  sessions holding them (10000), one of them 10,000 and one 100
 *   BENCH_STARTUPS      start-up samples per server (5)
 *   BENCH_LADDER=0      skip the ladder (get on the stack built up one layer at a time: bench/ladder.ts)
 *   BENCH_SCALE=1       instead: list scenarios at BENCH_ROWS and at BENCH_SCALE_ROWS (1000000)
 *
 * `node bench/run.ts --render` rewrites latest.md from latest.json (and scale.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config, describeMachine, gitDescription, interleave, log, prepareDatabase, RESULTS, restarts, startFloor, startOurs, warmUp } from './lib/common.ts';
import { checkSqlParity, deepQueries, loadFixtures, loadMessageFixtures } from './lib/fixtures.ts';
import { measureRewrites } from './lib/rewrites.ts';
import { type Fixtures, SCENARIOS } from './lib/load.ts';
import { type Cluster, startCluster } from './lib/postgres.ts';
import {
  FLOOR,
  median,
  OURS,
  type Results,
  ratio,
  ratiosOf,
  compareMessages,
  readJson,
  renderMarkdown,
  renderScale,
  type ScaleResults,
  summarise,
  targetsOf,
} from './lib/report.ts';
import { freePort } from './lib/postgres.ts';
import { cleanUp, onCleanup, type Server, startServer } from './lib/servers.ts';

const scaleMode = process.env.BENCH_SCALE === '1';
const only = process.env.BENCH_SCENARIOS?.split(',').map((name) => name.trim()).filter(Boolean);

async function startupSamples(url: string): Promise<{ ours: number[]; floor: number[] }> {
  const samples = { ours: [] as number[], floor: [] as number[] };
  for (let i = 0; i < config.startups; i++) {
    for (const [kind, start] of [
      ['ours', () => startOurs('ours-startup', url)],
      ['floor', () => startFloor('floor-startup', url)],
    ] as const) {
      const { server, startupMs } = await start();
      samples[kind].push(Math.round(startupMs));
      await server.stop();
    }
  }
  return samples;
}

async function benchmark(cluster: Cluster): Promise<void> {
  const selected = SCENARIOS.filter((s) => (!only || only.includes(s.name)) && (!s.messages || config.messages > 0));
  const scenarios = selected.filter((s) => !s.messages).map((s) => s.name);
  const messageScenarios = selected.filter((s) => s.messages).map((s) => s.name);
  const { url, seed: seeded } = await prepareDatabase(cluster, 'chat_sessions_bench', config.rows, messageScenarios.length ? config.messages : 0);
  const base = await loadFixtures(url, config.users);
  const messages = messageScenarios.length ? await loadMessageFixtures(url, log) : undefined;
  if (messages) onCleanup(messages.close);

  log(`start-up: ${config.startups} × (spawn → first 200 on /api/v1/health), database up…`);
  const startup = await startupSamples(url);
  log(`  ours ${startup.ours.join(', ')} ms; floor ${startup.floor.join(', ')} ms`);

  const ours = (await startOurs(OURS, url)).server;
  const floor = (await startFloor(FLOOR, url)).server;
  log(`ours pid ${ours.pid} on ${ours.url}; floor pid ${floor.pid} on ${floor.url}; PostgreSQL postmaster pid ${cluster.postmasterPid ?? 'n/a'}`);

  const fixtures: Fixtures = {
    ...base,
    deepQueries: await deepQueries(ours, floor),
    ...(messages ? { messages: messages.messages, beforeRun: async (scenario) => { if (scenario === 'stream-delta') await messages.refill(); } } : {}),
  };
  await fixtures.beforeRun?.('stream-delta'); // the parity check streams into one of them
  log(`walked 50 pages deep for ${fixtures.deepQueries[OURS]!.length} heavy users; page 51 is the same on both servers`);
  const parity = await checkSqlParity(cluster, ours, floor, fixtures);
  if (parity.checked) {
    for (const s of parity.scenarios) log(`SQL parity ${s.scenario}: ${s.same ? 'same statement' : `DIFFERS\n  ours:  ${s.ours.join('\n         ')}\n  floor: ${s.floor.join('\n         ')}`}`);
    if (parity.extra_statements.length) log(`ours also sends per request: ${parity.extra_statements.join(', ')}`);
  }

  log('warm-up: 3 s of the mix on each server');
  await warmUp([ours, floor], fixtures, cluster.postmasterPid);
  const runs = await interleave(scenarios, [ours, floor], fixtures, cluster.postmasterPid, () => url);
  if (messageScenarios.length) {
    log('warm-up: 1 s of each message scenario on each server');
    await warmUp([ours, floor], fixtures, cluster.postmasterPid, messageScenarios, 1);
  }
  if (messageScenarios.length) runs.push(...(await interleave(messageScenarios, [ours, floor], fixtures, cluster.postmasterPid, () => url, true)));
  const rewrites = messages ? await measureRewrites(url, messages.messages.appendSessions) : [];
  for (const w of rewrites) {
    log(`${w.what}: ${w.wal_bytes_per_statement} WAL bytes (${w.fpi_bytes_per_statement ?? 'n/a'} of full-page images), TOAST +${w.toast_bytes_per_statement} B, HOT ${w.hot_share ?? 'n/a'} per statement`);
  }

  const ladder = process.env.BENCH_LADDER === '0' ? undefined : await climbLadder(url, [ours, floor], fixtures, cluster.postmasterPid);

  const summary = summarise(runs);
  const ratios = ratiosOf(runs, summary, OURS, FLOOR);
  const deep_vs_first: Record<string, number | null> = {};
  for (const server of [OURS, FLOOR]) deep_vs_first[server] = ratio(summary['list-deep']?.[server]?.p50_ms, summary['list']?.[server]?.p50_ms);
  const peak = (server: string) => Math.max(...runs.filter((run) => run.server === server).map((run) => run.peak_rss_mb));
  const partial: Omit<Results, 'targets'> = {
    date: new Date().toISOString(),
    machine: describeMachine(cluster),
    git: gitDescription(),
    config: { ...config, scenarios: [...scenarios, ...messageScenarios].join(',') },
    seed: seeded,
    startup_ms: { ...startup, ours_median: median(startup.ours), floor_median: median(startup.floor) },
    parity,
    runs,
    summary,
    ratios,
    deep_vs_first,
    peak_rss_mb: { [OURS]: peak(OURS), [FLOOR]: peak(FLOOR) },
    restarts,
    ...(ladder ? { ladder } : {}),
    ...(messageScenarios.length ? { messages: compareMessages(runs, rewrites) } : {}),
  };
  const results: Results = { ...partial, targets: targetsOf(partial) };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderMarkdown(results, readJson<ScaleResults>(join(RESULTS, 'scale.json')));
  writeFileSync(join(RESULTS, 'latest.md'), markdown);
  console.log(`\n${markdown.split('\n## Every run')[0]}`);
  log('wrote bench/results/latest.md and latest.json');
}

const RUNGS = [
  { server: FLOOR, description: 'node:http + pg (bench/floor.ts)' },
  { server: 'koa', description: '+ Koa and @koa/router' },
  { server: 'slonik', description: '+ Slonik (the service\'s pool settings) instead of pg' },
  { server: 'zod', description: '+ rows parsed by the service\'s zod interceptor' },
  { server: OURS, description: 'ours: + contract validation, middleware, handlers, logging, metrics' },
];

/** The get scenario on each rung of bench/ladder.ts, with ours and the floor, interleaved. */
async function climbLadder(url: string, servers: Server[], fixtures: Fixtures, postmasterPid: number | undefined): Promise<Results['ladder']> {
  const rungs: Server[] = [];
  for (const rung of ['koa', 'slonik', 'zod']) {
    const env = { DATABASE_URL: url, DB_POOL_SIZE: String(config.pool_size), LADDER_RUNG: rung, LOG_LEVEL: 'warn' };
    rungs.push((await startServer({ name: rung, args: ['bench/ladder.ts'], env, port: await freePort() })).server);
  }
  log('the ladder: get on node:http + pg, + Koa, + Slonik, + zod rows, and ours');
  await warmUp(rungs, fixtures, postmasterPid);
  const all = [servers[1]!, ...rungs, servers[0]!];
  const runs = await interleave(['get'], all, fixtures, postmasterPid, () => url);
  for (const rung of rungs) await rung.stop();
  return { rungs: RUNGS, runs, summary: summarise(runs)['get'] ?? {} };
}

/** List scenarios at two table sizes, side by side: a service and a floor on each database. */
async function scaleBenchmark(cluster: Cluster): Promise<void> {
  const small = await prepareDatabase(cluster, 'chat_sessions_bench_small', config.rows);
  const large = await prepareDatabase(cluster, 'chat_sessions_bench_large', config.scale_rows);
  const fixtures: Fixtures = { ...(await loadFixtures(small.url, config.users)), deepQueries: {} };
  const servers: Server[] = [];
  const urls = new Map<string, string>();
  for (const [size, db] of [['small', small], ['large', large]] as const) {
    const ours = (await startOurs(`${OURS}-${size}`, db.url)).server;
    const floor = (await startFloor(`${FLOOR}-${size}`, db.url)).server;
    Object.assign(fixtures.deepQueries, await deepQueries(ours, floor));
    servers.push(ours, floor);
    urls.set(ours.name, db.url).set(floor.name, db.url);
  }
  log('warm-up: 3 s of the mix on each server');
  await warmUp(servers, fixtures, cluster.postmasterPid);
  const runs = await interleave(['list', 'list-deep'], servers, fixtures, cluster.postmasterPid, (server) => urls.get(server.name)!);
  const summary = summarise(runs);
  const ratios: ScaleResults['ratios'] = {};
  for (const scenario of ['list', 'list-deep']) {
    for (const kind of [OURS, FLOOR]) {
      const a = summary[scenario]?.[`${kind}-large`];
      const b = summary[scenario]?.[`${kind}-small`];
      (ratios[scenario] ??= {})[kind] = {
        p50_ms: ratio(a?.p50_ms, b?.p50_ms),
        p99_ms: ratio(a?.p99_ms, b?.p99_ms),
        rps: ratio(a?.rps, b?.rps),
        server_cpu_ms_per_req: ratio(a?.server_cpu_ms_per_req, b?.server_cpu_ms_per_req),
        pg_cpu_ms_per_req: ratio(a?.pg_cpu_ms_per_req, b?.pg_cpu_ms_per_req),
      };
    }
  }
  const value = ratios['list']?.[OURS]?.p50_ms ?? null;
  const scale: ScaleResults = {
    date: new Date().toISOString(),
    machine: describeMachine(cluster),
    git: gitDescription(),
    config: { ...config },
    sizes: { small: config.rows, large: config.scale_rows },
    runs,
    summary,
    ratios,
    restarts,
    target: {
      target: `list p50, ${config.scale_rows.toLocaleString('en')} rows / ${config.rows.toLocaleString('en')} rows (ours)`,
      value,
      limit: '≤ 1.20',
      pass: value === null ? null : value <= 1.2,
    },
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'scale.json'), `${JSON.stringify(scale, null, 2)}\n`);
  const markdown = renderScale(scale);
  writeFileSync(join(RESULTS, 'scale.md'), `${markdown}\n`);
  // latest.md shows the scale figures too.
  const latest = readJson<Results>(join(RESULTS, 'latest.json'));
  if (latest) writeFileSync(join(RESULTS, 'latest.md'), renderMarkdown(latest, scale));
  console.log(`\n${markdown}\n`);
  log('wrote bench/results/scale.md and scale.json');
}

async function main(): Promise<void> {
  if (process.argv.includes('--render')) {
    // Re-render latest.md from latest.json and scale.json (after a change of the report's layout).
    const latest = readJson<Results>(join(RESULTS, 'latest.json'));
    if (!latest) throw new Error('no bench/results/latest.json: run make bench first');
    writeFileSync(join(RESULTS, 'latest.md'), renderMarkdown(latest, readJson<ScaleResults>(join(RESULTS, 'scale.json'))));
    return;
  }
  log(`make bench: ${scaleMode ? `BENCH_SCALE, ${config.rows.toLocaleString('en')} vs ${config.scale_rows.toLocaleString('en')} rows` : `${config.rows.toLocaleString('en')} rows`}, ${config.connections} connections, ${config.rounds} rounds × (${config.warmup_seconds} + ${config.seconds} s)`);
  const cluster = await startCluster(log);
  onCleanup(() => cluster.stop());
  if (cluster.postmasterPid === undefined) log('PostgreSQL runs elsewhere: its CPU time is not measured');
  try {
    if (scaleMode) await scaleBenchmark(cluster);
    else await benchmark(cluster);
  } finally {
    await cleanUp();
    log('stopped every process the benchmark started');
  }
}

await main();
