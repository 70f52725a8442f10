/**
 * `make bench`: our service against two floors — bench/floor.ts (bare node:http + pg issuing the
 * same SQL) on our schema, and the same on the original design's table in a copy of the
 * database (bench/lib/original.ts) — on a real, seeded PostgreSQL, scenario by scenario,
 * interleaved; then the ladder, and ours under a 256 MB memory limit (bench/lib/memory.ts).
 * Writes bench/results/latest.{md,json} (BENCH_SCALE=1: bench/results/scale.{md,json} instead).
 *
 * Environment (all optional):
 *   BENCH_DATABASE_URL  a PostgreSQL server where the user may create databases (default: embedded)
 *   BENCH_ROWS          sessions to seed (100000)            BENCH_USERS        users (1000)
 *   BENCH_SECONDS       measured seconds per run (4)         BENCH_WARMUP       warm-up seconds per run (1)
 *   BENCH_ROUNDS        interleaved rounds per scenario (3)  BENCH_CONNECTIONS  autocannon connections (16)
 *   BENCH_SCENARIOS     comma-separated subset of get,list,list-deep,create,patch,mix,
 *                       append-1k,list-latest-10k,list-latest-100,list-branch-200,stream-delta
 *   BENCH_MESSAGES      messages to seed for the message scenarios (1000000; 0 skips those scenarios)
 *   BENCH_MESSAGE_SESSIONS  sessions holding them (10000), one of them 10,000 and one 100
 *   BENCH_STARTUPS      start-up samples per server (11), taken on an idle PostgreSQL, the servers interleaved
 *   BENCH_LADDER=0      skip the ladder (get on the stack built up one layer at a time: bench/ladder.ts)
 *   BENCH_MEMORY=0      skip the 256 MB step; BENCH_MEMORY_REQUESTS requests per scenario there (3000, 60 s at most);
 *   BENCH_MEMORY_FLAGS  node options of a second variant beside the default command (none by default: under a limit
 *                       the service sizes V8's heap itself, src/heap.ts), e.g. '--max-semi-space-size=8 --max-old-space-size=160'
 *   BENCH_SCALE=1       instead: list scenarios at BENCH_ROWS and at BENCH_SCALE_ROWS (1000000)
 *
 * `node bench/run.ts --render` rewrites latest.md from latest.json (and scale.json).
 */
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config, describeMachine, gitDescription, interleave, log, OURS_ENTRY, prepareDatabase, RESULTS, restarts, startFloor, startOurs, vacuum, warmUp } from './lib/common.ts';
import { createMemoryCgroup } from './lib/memory.ts';
import { toOriginalTable } from './lib/original.ts';
import { checkSqlParity, deepQueries, loadFixtures, loadMessageFixtures } from './lib/fixtures.ts';
import { measureRewrites } from './lib/rewrites.ts';
import { type Fixtures, type Measurement, measure, SCENARIOS, type ScenarioName } from './lib/load.ts';
import { type Cluster, startCluster } from './lib/postgres.ts';
import {
  FLOOR,
  median,
  MEMORY_LIMIT_MB,
  type MemoryResults,
  type MemoryVariant,
  ORIGINAL,
  OURS,
  pairedRatio,
  runsOf,
  type Results,
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
import { quietDatabase, spread } from './lib/startup.ts';

const scaleMode = process.env.BENCH_SCALE === '1';
const only = process.env.BENCH_SCENARIOS?.split(',').map((name) => name.trim()).filter(Boolean);

async function startupSamples(url: string, originalUrl: string): Promise<{ ours: number[]; floor: number[]; original: number[] }> {
  const samples = { ours: [] as number[], floor: [] as number[], original: [] as number[] };
  for (let i = 0; i < config.startups; i++) {
    for (const [kind, start] of [
      ['ours', () => startOurs('ours-startup', url)],
      ['floor', () => startFloor('floor-startup', url)],
      ['original', () => startFloor('original-startup', originalUrl, 'original')],
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
  const copied = performance.now();
  const originalUrl = await cluster.cloneDatabase('chat_sessions_bench_original', 'chat_sessions_bench');
  const originalTable = await toOriginalTable(originalUrl);
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  const original = { table_mb: mb(originalTable.tableBytes), index_mb: mb(originalTable.indexBytes), indexes: originalTable.indexes, ms: Math.round(performance.now() - copied) };
  log(`the original table, in a copy of the database: table ${original.table_mb} MB, indexes ${original.index_mb} MB (${original.indexes.join(', ')}), in ${(original.ms / 1000).toFixed(1)} s`);
  const urlOf = (server: Server) => (server.name === ORIGINAL ? originalUrl : url);
  const base = await loadFixtures(url, config.users);
  const messages = messageScenarios.length ? await loadMessageFixtures(url, log, { url: originalUrl, isOriginal: (server) => server === ORIGINAL }) : undefined;
  if (messages) onCleanup(messages.close);

  // As a restart finds the database: migrated, and PostgreSQL idle (not still writing the seed).
  await quietDatabase(url);
  await quietDatabase(originalUrl);
  log(`start-up: ${config.startups} × (spawn → first 200 on /api/v1/health), database up and idle, interleaved…`);
  const startup = await startupSamples(url, originalUrl);
  for (const kind of ['ours', 'floor', 'original'] as const) {
    log(`  ${kind.padEnd(8)} median ${median(startup[kind])} ms, ${spread(startup[kind])}: ${startup[kind].join(', ')}`);
  }

  const ours = (await startOurs(OURS, url)).server;
  const floor = (await startFloor(FLOOR, url)).server;
  const originalFloor = (await startFloor(ORIGINAL, originalUrl, 'original')).server;
  const servers = [ours, floor, originalFloor];
  log(`ours pid ${ours.pid} on ${ours.url}; floor pid ${floor.pid} on ${floor.url}; original pid ${originalFloor.pid} on ${originalFloor.url}; PostgreSQL postmaster pid ${cluster.postmasterPid ?? 'n/a'}`);

  const deep = await deepQueries(ours, floor);
  const fixtures: Fixtures = {
    ...base,
    deepQueries: { ...deep, [ORIGINAL]: deep[FLOOR]! },
    ...(messages ? { messages: messages.messages, beforeRun: async (scenario, server) => { if (scenario === 'stream-delta') await messages.refill(server); } } : {}),
  };
  await samePages(floor, originalFloor, fixtures.deepQueries[FLOOR]!);
  await fixtures.beforeRun?.('stream-delta', FLOOR); // the parity check streams into one of them
  log(`walked 50 pages deep for ${fixtures.deepQueries[OURS]!.length} heavy users; page 51 is the same on every server`);
  const parity = await checkSqlParity(cluster, ours, floor, fixtures);
  if (parity.checked) {
    for (const s of parity.scenarios) log(`SQL parity ${s.scenario}: ${s.same ? 'same statement' : `DIFFERS\n  ours:  ${s.ours.join('\n         ')}\n  floor: ${s.floor.join('\n         ')}`}`);
    if (parity.extra_statements.length) log(`ours also sends per request: ${parity.extra_statements.join(', ')}`);
  }

  log('warm-up: 3 s of the mix on each server');
  await warmUp(servers, fixtures, cluster.postmasterPid);
  const runs = await interleave(scenarios, servers, fixtures, cluster.postmasterPid, urlOf);
  if (messageScenarios.length) {
    log('warm-up: 1 s of each message scenario on each server');
    await warmUp(servers, fixtures, cluster.postmasterPid, messageScenarios, 1);
  }
  if (messageScenarios.length) runs.push(...(await interleave(messageScenarios, servers, fixtures, cluster.postmasterPid, urlOf, true)));
  await originalFloor.stop();
  const rewrites = messages ? await measureRewrites(url, messages.messages.appendSessions) : [];
  for (const w of rewrites) {
    log(`${w.what}: ${w.wal_bytes_per_statement} WAL bytes (${w.fpi_bytes_per_statement ?? 'n/a'} of full-page images), TOAST +${w.toast_bytes_per_statement} B, HOT ${w.hot_share ?? 'n/a'} per statement`);
  }

  const ladder = process.env.BENCH_LADDER === '0' ? undefined : await climbLadder(url, [ours, floor], fixtures, cluster.postmasterPid);
  await ours.stop();
  await floor.stop();
  const memory = process.env.BENCH_MEMORY === '0' ? undefined : await underMemoryLimit(url, fixtures, cluster.postmasterPid, [...scenarios, ...messageScenarios]);

  const summary = summarise(runs);
  const deep_vs_first: Record<string, number | null> = {};
  for (const server of [OURS, FLOOR, ORIGINAL]) deep_vs_first[server] = pairedRatio(runsOf(runs, 'list-deep', server), runsOf(runs, 'list', server), 'p50_ms');
  const peak = (server: string) => Math.max(...runs.filter((run) => run.server === server).map((run) => run.peak_rss_mb));
  const partial: Omit<Results, 'targets'> = {
    date: new Date().toISOString(),
    machine: describeMachine(cluster),
    git: gitDescription(),
    config: { ...config, scenarios: [...scenarios, ...messageScenarios].join(',') },
    seed: seeded,
    original,
    startup_ms: { ...startup, ours_median: median(startup.ours), floor_median: median(startup.floor), original_median: median(startup.original) },
    parity,
    runs,
    summary,
    ratios: ratiosOf(runs, summary, OURS, FLOOR),
    ratios_original: ratiosOf(runs, summary, OURS, ORIGINAL),
    floor_vs_original: ratiosOf(runs, summary, FLOOR, ORIGINAL),
    deep_vs_first,
    peak_rss_mb: { [OURS]: peak(OURS), [FLOOR]: peak(FLOOR), [ORIGINAL]: peak(ORIGINAL) },
    restarts,
    ...(ladder ? { ladder } : {}),
    ...(messageScenarios.length ? { messages: compareMessages(runs, rewrites) } : {}),
    ...(memory ? { memory } : {}),
  };
  const results: Results = { ...partial, targets: targetsOf(partial) };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderMarkdown(results, readJson<ScaleResults>(join(RESULTS, 'scale.json')));
  writeFileSync(join(RESULTS, 'latest.md'), markdown);
  console.log(`\n${markdown.split('\n## The original table')[0]}`);
  log('wrote bench/results/latest.md and latest.json');
}

/** The original floor answers page 51 with the rows the floor answers (same data, other indexes). */
async function samePages(floor: Server, original: Server, queries: string[]): Promise<void> {
  for (const query of queries) {
    const [a, b] = await Promise.all(
      [floor, original].map(async (server) => ((await (await fetch(`${server.url}/api/v1/sessions?${query}`)).json()) as { items: Array<{ id: string }> }).items.map((item) => item.id).join()),
    );
    if (a !== b) throw new Error(`page 51 (${query}) differs between the floor and the original table`);
  }
}

const dead = (server: Server) => server.child.exitCode !== null || server.child.signalCode !== null;

/**
 * Ours under a 256 MB memory limit, with no V8 flags and with BENCH_MEMORY_FLAGS: each in a
 * cgroup of its own (bench/lib/memory.ts), every scenario once, interleaved scenario by
 * scenario. A death is the result, not something to repeat: no restart.
 */
async function underMemoryLimit(url: string, fixtures: Fixtures, postmasterPid: number | undefined, scenarios: ScenarioName[]): Promise<MemoryResults> {
  // A count of requests, not seconds: what fills a heap is allocation, so a busy machine (fewer
  // requests per second) must not make the step easier to pass.
  const requests = Number(process.env.BENCH_MEMORY_REQUESTS ?? 3000);
  const flags = (process.env.BENCH_MEMORY_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const variants = flags.length ? [[], flags] : [[]];
  const limit = MEMORY_LIMIT_MB * 2 ** 20;
  const started: Array<{ server: Server; options: string[]; cgroup: Exclude<ReturnType<typeof createMemoryCgroup>, { unavailable: string }> }> = [];
  let mechanism = '';
  for (const [index, options] of variants.entries()) {
    const cgroup = createMemoryCgroup(`chat-sessions-bench-${process.pid}-${index}`, limit);
    if ('unavailable' in cgroup) {
      log(`${MEMORY_LIMIT_MB} MB step skipped: ${cgroup.unavailable}`);
      for (const s of started) await s.server.stop();
      return { limit_mb: MEMORY_LIMIT_MB, mechanism: cgroup.unavailable, requests, variants: [] };
    }
    mechanism = cgroup.mechanism;
    onCleanup(async () => {
      try {
        cgroup.remove();
      } catch {
        // removed already, after its process stopped
      }
    });
    const name = `${OURS}-${MEMORY_LIMIT_MB}m${index ? `-${index}` : ''}`;
    const { server } = await startOurs(name, url, options, OURS_ENTRY, (pid) => cgroup.addProcess(pid));
    delete server.restart;
    fixtures.deepQueries[name] = fixtures.deepQueries[OURS]!;
    started.push({ server, options, cgroup });
  }
  log(`${MEMORY_LIMIT_MB} MB: ${mechanism}; ${started.map((s) => `${s.server.name} (${s.options.join(' ') || 'no flags'})`).join(', ')}`);
  const options = { connections: config.connections, warmupSeconds: 0, postmasterPid };
  const runs: Measurement[] = [];
  const attempt = async (scenario: ScenarioName, server: Server, round: number, amount: number) => {
    if (dead(server)) return;
    try {
      const run = await measure(scenario, server, fixtures, round, { ...options, seconds: 60, requests: amount });
      if (round >= 0) runs.push(run);
    } catch (error) {
      // A killed process is gone from /proc a moment before its exit event arrives.
      if (!dead(server)) await Promise.race([once(server.child, 'exit'), new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (!dead(server)) throw error;
    }
  };
  for (const s of started) await attempt('mix', s.server, -1, 1000); // warm-up
  for (const [index, scenario] of scenarios.entries()) {
    const order = index % 2 === 0 ? started : [...started].reverse();
    for (const s of order) {
      await attempt(scenario, s.server, 0, requests);
      const run = runs.at(-1);
      if (run?.server === s.server.name && run.scenario === scenario) {
        log(`${scenario.padEnd(15)} ${s.server.name.padEnd(11)} ${String(run.rps).padStart(6)} req/s  CPU ${run.server_cpu_ms_per_req.toFixed(3)} ms/req  RSS ${run.peak_rss_mb} MB  cgroup peak ${Math.round((s.cgroup.peakBytes() ?? 0) / 2 ** 20)} MB`);
      } else {
        log(`${scenario.padEnd(15)} ${s.server.name.padEnd(11)} DEAD (${s.server.death ?? 'gone'})`);
      }
      if (SCENARIOS.find((x) => x.name === scenario)!.writes) await vacuum(url);
    }
  }
  const result: MemoryVariant[] = started.map(({ server, options: nodeOptions, cgroup }) => {
    const own = runs.filter((run) => run.server === server.name);
    const first = runs.filter((run) => run.server === started[0]!.server.name);
    const cpu: Record<string, number | null> = {};
    for (const scenario of scenarios) cpu[scenario] = pairedRatio(runsOf(own, scenario, server.name), runsOf(first, scenario, started[0]!.server.name), 'server_cpu_ms_per_req');
    const peakBytes = cgroup.peakBytes();
    const status = dead(server) ? '' : readFileSync(`/proc/${server.pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return {
      server: server.name,
      node_options: nodeOptions,
      survived: !dead(server) && own.length === scenarios.length,
      death: dead(server) ? (server.death ?? 'ended') : null,
      peak_rss_mb: own.length ? Math.max(...own.map((run) => run.peak_rss_mb)) : 0,
      cgroup_peak_mb: peakBytes === null ? null : Math.round(peakBytes / 2 ** 20),
      rss_at_end_mb: { anonymous: Math.round(kib('RssAnon') / 1024), file: Math.round(kib('RssFile') / 1024) },
      oom_kills: cgroup.oomKills(),
      limit_hits: cgroup.limitHits(),
      cpu_vs_first: cpu,
      runs: own,
    };
  });
  for (const s of started) {
    await s.server.stop();
    try {
      s.cgroup.remove();
    } catch (error) {
      log(`warning: cannot remove ${s.cgroup.dir}: ${(error as Error).message}`);
    }
  }
  for (const v of result) log(`${MEMORY_LIMIT_MB} MB, ${v.node_options.join(' ') || 'no flags'}: ${v.survived ? 'survived' : `DIED (${v.death})`}, peak RSS ${v.peak_rss_mb} MB, cgroup peak ${v.cgroup_peak_mb} MB, OOM kills ${v.oom_kills}, at the limit ${v.limit_hits} times`);
  return { limit_mb: MEMORY_LIMIT_MB, mechanism, requests, variants: result };
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
  const vs_floor: Record<string, Record<string, number | null>> = {};
  for (const { server } of RUNGS) {
    const [xs, ys] = [runsOf(runs, 'get', server), runsOf(runs, 'get', FLOOR)];
    vs_floor[server] = { rps: pairedRatio(xs, ys, 'rps'), server_cpu_ms_per_req: pairedRatio(xs, ys, 'server_cpu_ms_per_req'), cpu_ms_per_req: pairedRatio(xs, ys, 'cpu_ms_per_req') };
  }
  return { rungs: RUNGS, runs, summary: summarise(runs)['get'] ?? {}, vs_floor };
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
      // Paired: the large table's run against the small one's of the same round.
      const [xs, ys] = [runsOf(runs, scenario, `${kind}-large`), runsOf(runs, scenario, `${kind}-small`)];
      (ratios[scenario] ??= {})[kind] = {
        p50_ms: pairedRatio(xs, ys, 'p50_ms'),
        p99_ms: pairedRatio(xs, ys, 'p99_ms'),
        rps: pairedRatio(xs, ys, 'rps'),
        server_cpu_ms_per_req: pairedRatio(xs, ys, 'server_cpu_ms_per_req'),
        pg_cpu_ms_per_req: pairedRatio(xs, ys, 'pg_cpu_ms_per_req'),
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
