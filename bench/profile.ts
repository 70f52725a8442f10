/**
 * Where our service spends its time under the benchmark's load. For each scenario, a fresh
 * `node --cpu-prof --cpu-prof-dir=bench/profiles src/start.ts` is warmed up and loaded as in
 * `make bench`, then the floor (bench/floor.ts) the same way. The source, not the build: the build
 * bundles every package into one file, so its samples could not be told apart by package; the
 * code that runs per request is the same (start-up is not: type stripping, ~400 modules); only the samples of the measured
 * window count. Self time is aggregated by function and by file or package, per request, ours
 * next to the floor's, into bench/results/profile.{md,json}. The raw .cpuprofile files stay in
 * bench/profiles/ (Chrome DevTools or speedscope open them). Also: a profile of the start-up, and
 * the service's RSS along each run.
 *
 *   node bench/profile.ts                      start-up and every scenario, 10 s each
 *   BENCH_SCENARIOS=startup,get,list BENCH_SECONDS=15 node bench/profile.ts
 *   node bench/profile.ts --render             re-render profile.md from profile.json
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { config, describeMachine, gitDescription, log, prepareDatabase, RESULTS, startOurs } from './lib/common.ts';

/** Profiled: the source, so that samples keep their package and file (see above). */
const SOURCE_ENTRY = 'src/start.ts';
import { type ProfileSummary, SOCKET_WRITES_ROW, summariseProfile } from './lib/cpuprofile.ts';
import { deepQueries, loadFixtures } from './lib/fixtures.ts';
import { type Fixtures, measure, SCENARIOS, type ScenarioName } from './lib/load.ts';
import { freePort, startCluster } from './lib/postgres.ts';
import { rssBytes } from './lib/procfs.ts';
import { cleanUp, onCleanup, ROOT, type Server, startServer } from './lib/servers.ts';

const PROFILES = join(ROOT, 'bench', 'profiles');
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const only = process.env.BENCH_SCENARIOS?.split(',').map((name) => name.trim()).filter(Boolean);
// The message scenarios need the seeded messages, which this script does not make (yet).
const scenarios = SCENARIOS.filter((s) => !s.messages).map((s) => s.name).filter((name) => !only || only.includes(name));

type Run = { file: string; requests: number; rps: number; server_cpu_ms_per_req: number; rss_mb: number[]; summary: ProfileSummary };
type Profiled = { scenario: ScenarioName; ours: Run; floor: Run };
type StartupProfile = { file: string; startup_ms: number; summary: ProfileSummary };

const cell = (text: string) => `\`${text.replaceAll('|', '\\|')}\``;

function topTables(s: ProfileSummary, rows = 20): string[] {
  const lines = ['| ours: self time by function | ms | % |', '|---|--:|--:|'];
  for (const row of s.self_by_function.slice(0, rows)) lines.push(`| ${cell(row.name)} | ${row.ms} | ${row.share} |`);
  lines.push('', '| ours: functions of src/ with what they call (synchronous part) | ms | % |', '|---|--:|--:|');
  for (const row of s.inclusive_by_src_function.slice(0, 12)) lines.push(`| ${cell(row.name)} | ${row.ms} | ${row.share} |`);
  return lines;
}

/** What a file or package is part of, for the per-layer table. */
function layerOf(module: string): string {
  if (module === SOCKET_WRITES_ROW) return 'socket writes (wall time: mostly descheduled, see above)';
  if (module === '(garbage collector)') return 'garbage collector';
  if (module === '(native)' || module === '(program)') return 'V8 natives and builtins (runMicrotasks: promise hops…)';
  if (/^(koa|koa-compose|delegates|@koa\/router|@koa\/cors|http-errors|statuses|on-finished|accepts|type-is|content-type|cookies|vary|mime-types|mime-db|only|encodeurl|escape-html|destroy|fresh|depd|http-assert|negotiator|path-to-regexp|ee-first|inflation|bytes|iconv-lite|setprototypeof|toidentifier|inherits|content-disposition|media-typer)$/.test(module)) return 'Koa, @koa/router and their helpers';
  if (/^src\/(app|http\/).*/.test(module) && module !== 'src/http/metrics.ts') return 'our middleware (src/app.ts, src/http/)';
  if (module === 'prom-client' || module === 'src/http/metrics.ts' || module === 'tdigest' || module === 'bintrees') return 'metrics (prom-client, src/http/metrics.ts)';
  if (/^(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify|@pinojs\/.*)$/.test(module)) return 'logging (pino)';
  if (/^(ajv|ajv-formats|fast-uri|fast-deep-equal|json-schema-traverse|qs|side-channel.*|openapi-backend|src\/contract\/.*)$/.test(module)) return 'routing + validation (src/contract, ajv, qs)';
  if (/^(slonik|@slonik\/.*|serialize-error|roarr|p-limit|yocto-queue|iso8601-duration|postgres-interval|strict-event-emitter-types)$/.test(module)) return 'Slonik';
  if (/^(pg|pg-protocol|pg-types|pg-pool|pg-int8|postgres-array|postgres-bytea|postgres-date|postgres-interval|pgpass|pg-connection-string|pg-cloudflare|pg-query-stream|pg-cursor)$/.test(module)) return 'pg driver (protocol, row parsing)';
  if (module === 'zod' || module === 'src/db/pool.ts') return 'row validation (zod via src/db/pool.ts)';
  if (module === 'src/sessions/cursor.ts' || module === 'node:internal/crypto') return 'cursor signing (src/sessions/cursor.ts, crypto)';
  if (module.startsWith('src/')) return 'handlers and service (src/sessions, src/db)';
  if (module.startsWith('bench/')) return 'the floor\'s own code';
  if (module.startsWith('node:')) return 'Node core (http, net, streams, events)';
  return `other (${module})`;
}

function layers(r: Profiled): string[] {
  const sum = (run: Run) => {
    const totals = new Map<string, number>();
    for (const [module, ms] of Object.entries(run.summary.all_self_by_module)) {
      if (module === '(idle)') continue;
      const layer = layerOf(module);
      totals.set(layer, (totals.get(layer) ?? 0) + (ms * 1000) / Math.max(1, run.requests));
    }
    return totals;
  };
  const ours = sum(r.ours);
  const floor = sum(r.floor);
  const names = [...new Set([...ours.keys(), ...floor.keys()])].sort((a, b) => (ours.get(b) ?? 0) - (floor.get(b) ?? 0) - ((ours.get(a) ?? 0) - (floor.get(a) ?? 0)));
  const lines = ['| layer (self time) | ours µs/req | floor µs/req | ours − floor |', '|---|--:|--:|--:|'];
  for (const name of names) {
    const a = ours.get(name) ?? 0;
    const b = floor.get(name) ?? 0;
    if (a < 0.5 && b < 0.5) continue;
    lines.push(`| ${name} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a - b).toFixed(1)} |`);
  }
  return lines;
}

/** µs of self time per request by file or package, ours next to the floor's, largest excess first. */
function differential(r: Profiled, rows = 18): string[] {
  const perRequest = (run: Run) => (name: string) => ((run.summary.all_self_by_module[name] ?? 0) * 1000) / Math.max(1, run.requests);
  const ours = perRequest(r.ours);
  const floor = perRequest(r.floor);
  const names = new Set([...Object.keys(r.ours.summary.all_self_by_module), ...Object.keys(r.floor.summary.all_self_by_module)]);
  names.delete('(idle)');
  const sorted = [...names].sort((a, b) => ours(b) - floor(b) - (ours(a) - floor(a)));
  const total = (f: (name: string) => number, exclude: string[]) => [...names].filter((n) => !exclude.includes(n)).reduce((sum, n) => sum + f(n), 0);
  const lines = ['| file or package (self time) | ours µs/req | floor µs/req | ours − floor |', '|---|--:|--:|--:|'];
  for (const name of sorted.slice(0, rows)) {
    lines.push(`| ${name} | ${ours(name).toFixed(1)} | ${floor(name).toFixed(1)} | ${(ours(name) - floor(name)).toFixed(1)} |`);
  }
  const jsOurs = total(ours, [SOCKET_WRITES_ROW]);
  const jsFloor = total(floor, [SOCKET_WRITES_ROW]);
  lines.push(`| **all but socket writes** | **${jsOurs.toFixed(1)}** | **${jsFloor.toFixed(1)}** | **×${(jsOurs / jsFloor).toFixed(2)}** |`);
  return lines;
}

function render(startup: StartupProfile | undefined, results: Profiled[], date: string, machine: string, git: string): string {
  const lines = [`# CPU profiles under the bench load — ${date}`, ''];
  lines.push(
    `Machine: ${machine}. Code: ${git}. \`node --cpu-prof\` of \`src/start.ts\` (the source: the bundle's samples cannot be told apart by package), then of \`bench/floor.ts\`, ${config.connections} connections, ` +
      `${seconds} s per scenario after a 3 s warm-up; only the samples of the measured window count (profiler on: slower than make bench).`,
    '',
    `V8 samples on wall-clock time: a process that loses the CPU inside a socket write (on loopback the write wakes the peer, which often takes the core) ` +
      `stays charged to that write until it runs again, so on this loaded 2-core machine \`writev\`/\`writeBuffer\` are mostly time spent descheduled, ` +
      `for the floor as for ours. They are one row (${SOCKET_WRITES_ROW}); compare the rest. Per-request figures divide by the requests answered in the window.`,
    '',
  );
  if (startup) {
    lines.push(`## start-up — ${Math.round(startup.startup_ms)} ms from spawn to the first 200 on /api/v1/health (profiler on)`, '');
    lines.push(`The whole life of the process, busy ${startup.summary.busy_ms} ms. Profile: \`bench/profiles/${startup.file}\`.`, '');
    lines.push('| self, by file or package | ms | % | | inclusive, by file or package | ms | % |', '|---|--:|--:|---|---|--:|--:|');
    for (let i = 0; i < 15; i++) {
      const a = startup.summary.self_by_module[i];
      const b = startup.summary.inclusive_by_module[i];
      lines.push(`| ${a ? `${a.name} | ${a.ms} | ${a.share}` : ' | | '} | | ${b ? `${b.name} | ${b.ms} | ${b.share}` : ' | | '} |`);
    }
    lines.push('', ...topTables(startup.summary), '');
  }
  for (const r of results) {
    lines.push(`## ${r.scenario}`, '');
    lines.push(
      `ours ${r.ours.rps} req/s, ${r.ours.server_cpu_ms_per_req.toFixed(3)} ms CPU/request, RSS ${r.ours.rss_mb.join(', ')} MB; ` +
        `floor ${r.floor.rps} req/s, ${r.floor.server_cpu_ms_per_req.toFixed(3)} ms CPU/request, RSS ${r.floor.rss_mb.join(', ')} MB. ` +
        `Profiles: \`bench/profiles/${r.ours.file}\`, \`bench/profiles/${r.floor.file}\`.`,
      '',
    );
    lines.push(...layers(r), '', ...differential(r), '', ...topTables(r.ours.summary), '');
  }
  return `${lines.join('\n')}\n`;
}

async function profiledRun(
  scenario: ScenarioName,
  file: string,
  start: () => Promise<Server>,
  fixturesFor: (server: Server) => Promise<Fixtures>,
): Promise<Run> {
  rmSync(join(PROFILES, file), { force: true });
  const server = await start();
  try {
    const fixtures = await fixturesFor(server);
    const options = { connections: config.connections, seconds: 3, warmupSeconds: 0, postmasterPid: undefined };
    await measure(scenario, server, fixtures, -1, options); // warm-up
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(Math.round(rssBytes(server.pid) / 2 ** 20)), 1000);
    const from = Number(process.hrtime.bigint() / 1000n);
    const run = await measure(scenario, server, fixtures, 0, { ...options, seconds });
    const to = Number(process.hrtime.bigint() / 1000n);
    clearInterval(sampler);
    await server.stop(); // SIGTERM: the process exits and node writes the profile
    if (!readdirSync(PROFILES).includes(file)) throw new Error(`no ${file} written`);
    return { file, requests: run.requests, rps: run.rps, server_cpu_ms_per_req: run.server_cpu_ms_per_req, rss_mb: rss, summary: summariseProfile(join(PROFILES, file), from, to) };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--render')) {
    // Re-render profile.md from profile.json (after a change of this file's tables).
    const saved = JSON.parse(readFileSync(join(RESULTS, 'profile.json'), 'utf8')) as { date: string; machine: string; git: string; startup?: StartupProfile; results: Profiled[] };
    writeFileSync(join(RESULTS, 'profile.md'), render(saved.startup, saved.results, saved.date, saved.machine, saved.git));
    return;
  }
  const cluster = await startCluster(log);
  onCleanup(() => cluster.stop());
  try {
    const { url } = await prepareDatabase(cluster, 'chat_sessions_profile', config.rows);
    const base = await loadFixtures(url, config.users);
    mkdirSync(PROFILES, { recursive: true });
    const profile = (file: string) => ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`, `--cpu-prof-name=${file}`];

    let startup: StartupProfile | undefined;
    if (!only || only.includes('startup')) {
      const file = 'startup.cpuprofile';
      rmSync(join(PROFILES, file), { force: true });
      const { server, startupMs } = await startOurs('ours', url, profile(file), SOURCE_ENTRY);
      await server.stop();
      startup = { file, startup_ms: startupMs, summary: summariseProfile(join(PROFILES, file)) };
      log(`start-up: ${Math.round(startupMs)} ms; top self: ${startup.summary.self_by_module.slice(0, 5).map((r) => `${r.name} ${r.share}%`).join(', ')}`);
    }

    // The floor's deep cursors are the same keyset positions as ours (bench/lib/fixtures.ts).
    let deep: Record<string, string[]> | undefined;
    const fixturesFor = async (server: Server): Promise<Fixtures> => {
      if (!deep) {
        const ours = (await startOurs('ours', url, [], SOURCE_ENTRY)).server;
        const floor = (await startServer({ name: 'floor', args: ['bench/floor.ts'], env: { DATABASE_URL: url }, port: await freePort() })).server;
        deep = await deepQueries(ours, floor);
        await Promise.all([ours.stop(), floor.stop()]);
      }
      return { ...base, deepQueries: { [server.name]: deep[server.name]! } };
    };

    const results: Profiled[] = [];
    for (const scenario of scenarios) {
      const ours = await profiledRun(scenario, `${scenario}.cpuprofile`, async () => (await startOurs('ours', url, profile(`${scenario}.cpuprofile`), SOURCE_ENTRY)).server, fixturesFor);
      const floor = await profiledRun(
        scenario,
        `${scenario}.floor.cpuprofile`,
        async () =>
          (
            await startServer({
              name: 'floor',
              args: [...profile(`${scenario}.floor.cpuprofile`), 'bench/floor.ts'],
              env: { DATABASE_URL: url, DB_POOL_SIZE: String(config.pool_size) },
              port: await freePort(),
            })
          ).server,
        fixturesFor,
      );
      log(`${scenario}: ours ${ours.rps} req/s, floor ${floor.rps} req/s; ours' top self: ${ours.summary.self_by_module.slice(0, 5).map((r) => `${r.name} ${r.share}%`).join(', ')}`);
      results.push({ scenario, ours, floor });
    }
    const date = new Date().toISOString();
    const machine = Object.entries(describeMachine(cluster)).map(([key, value]) => `${key} ${value}`).join(', ');
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'profile.json'), `${JSON.stringify({ date, machine, git: gitDescription(), seconds, connections: config.connections, startup, results }, null, 2)}\n`);
    writeFileSync(join(RESULTS, 'profile.md'), render(startup, results, date, machine, gitDescription()));
    log('wrote bench/results/profile.md and profile.json; raw profiles in bench/profiles/');
  } finally {
    await cleanUp();
  }
}

await main();
