/**
 * Settings from the environment and the steps `make bench` and bench/profile.ts share.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type Fixtures, type Measurement, measure, SCENARIOS, type ScenarioName } from './load.ts';
import { type Cluster, freePort, withClient } from './postgres.ts';
import { machine } from './procfs.ts';
import { seed, seedMessages } from './seed.ts';
import { ROOT, type Server, startServer } from './servers.ts';

const env = (name: string, fallback: number) => {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const number = Number(value.replaceAll('_', ''));
  if (!Number.isFinite(number) || number < 0) throw new Error(`${name} must be a number, not ${value}`);
  return number;
};

export const config = {
  rows: env('BENCH_ROWS', 100_000),
  users: env('BENCH_USERS', 1_000),
  seconds: env('BENCH_SECONDS', 4),
  warmup_seconds: env('BENCH_WARMUP', 1),
  rounds: env('BENCH_ROUNDS', 3),
  connections: env('BENCH_CONNECTIONS', 16),
  startups: env('BENCH_STARTUPS', 11),
  pool_size: 20,
  scale_rows: env('BENCH_SCALE_ROWS', 1_000_000),
  /** Messages seeded over message_sessions sessions for the message scenarios (0: none, and no message scenarios). */
  messages: env('BENCH_MESSAGES', 1_000_000),
  message_sessions: env('BENCH_MESSAGE_SESSIONS', 10_000),
};

export const RESULTS = join(ROOT, 'bench', 'results');

const began = performance.now();
export const log = (line: string) => console.log(`[${((performance.now() - began) / 1000).toFixed(1).padStart(6)} s] ${line}`);

/** Environment of our service: the database, quiet logs, the floor's pool size, no auth (as `make run`). */
function oursEnv(url: string): Record<string, string> {
  return { DATABASE_URL: url, LOG_LEVEL: 'warn', HOST: '127.0.0.1', DB_POOL_SIZE: String(config.pool_size), AUTH_MODE: 'none' };
}

/** Our service as production runs it: the build in dist/ (`make bench` builds it first). */
export const OURS_ENTRY = 'dist/src/start.js';

export async function startOurs(name: string, url: string, nodeOptions: string[] = [], entry = OURS_ENTRY, onSpawn?: (pid: number) => void): ReturnType<typeof startServer> {
  if (!existsSync(join(ROOT, entry))) throw new Error(`${entry} is missing: run make build (make bench does)`);
  const started = await startServer({ name, args: [...nodeOptions, entry], env: oursEnv(url), port: await freePort(), ...(onSpawn ? { onSpawn } : {}) });
  started.server.restart = async () => (await startOurs(name, url, nodeOptions, entry)).server;
  return started;
}

/** bench/floor.ts on our schema, or (`original`) on the original design's table (bench/lib/original.ts). */
export async function startFloor(name: string, url: string, schema: 'ours' | 'original' = 'ours'): ReturnType<typeof startServer> {
  const env = { DATABASE_URL: url, DB_POOL_SIZE: String(config.pool_size), FLOOR_SCHEMA: schema };
  const started = await startServer({ name, args: ['bench/floor.ts'], env, port: await freePort() });
  started.server.restart = async () => (await startFloor(name, url, schema)).server;
  return started;
}

/** Servers that died during the benchmark and were started again (reported with the results). */
export const restarts: Array<{ server: string; scenario: string; round: number; death: string }> = [];

const dead = (server: Server) => server.child.exitCode !== null || server.child.signalCode !== null;

/**
 * One measured run. When the server process is gone (on a shared machine, something else may
 * kill it; or it crashed), the death is recorded, the server started again, warmed up, and the
 * run repeated — at most twice.
 */
async function measureOrRestart(scenario: ScenarioName, servers: Server[], index: number, fixtures: Fixtures, round: number, postmasterPid: number | undefined): Promise<Measurement> {
  const options = { connections: config.connections, seconds: config.seconds, warmupSeconds: config.warmup_seconds, postmasterPid };
  for (let attempt = 0; ; attempt++) {
    const server = servers[index]!;
    if (!dead(server)) {
      try {
        const run = await measure(scenario, server, fixtures, round, options);
        if (!dead(server)) return run;
      } catch (error) {
        if (!dead(server)) throw error;
      }
    }
    const death = server.death ?? 'ended';
    restarts.push({ server: server.name, scenario, round, death });
    if (attempt >= 2 || !server.restart) throw new Error(`${server.name} died during ${scenario} round ${round + 1} (${death}) ${attempt + 1} times`);
    log(`${server.name} died (${death}): starting it again and repeating the run`);
    servers[index] = await server.restart();
    await measure('mix', servers[index]!, fixtures, -1, { ...options, seconds: 3, warmupSeconds: 0 });
  }
}

export async function prepareDatabase(cluster: Cluster, name: string, rows: number, messages = 0): Promise<{ url: string; seed: Record<string, number> }> {
  const url = await cluster.createDatabase(name);
  log(`seeding ${rows.toLocaleString('en')} sessions over ${config.users.toLocaleString('en')} users into ${name}…`);
  const seeded = await seed(url, rows, config.users, (line) => log(line));
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  log(`  seeded in ${(seeded.ms / 1000).toFixed(1)} s: table ${mb(seeded.tableBytes)} MB, indexes ${mb(seeded.indexBytes)} MB`);
  const result: Record<string, number> = { rows, users: config.users, ms: seeded.ms, table_mb: mb(seeded.tableBytes), index_mb: mb(seeded.indexBytes) };
  if (messages > 0) {
    log(`seeding ${messages.toLocaleString('en')} messages over ${config.message_sessions.toLocaleString('en')} sessions…`);
    const m = await seedMessages(url, messages, config.message_sessions, (line) => log(line));
    log(`  seeded in ${(m.ms / 1000).toFixed(1)} s: table ${mb(m.tableBytes)} MB, TOAST ${mb(m.toastBytes)} MB, indexes ${mb(m.indexBytes)} MB`);
    Object.assign(result, {
      messages,
      message_sessions: config.message_sessions,
      messages_ms: m.ms,
      messages_table_mb: mb(m.tableBytes),
      messages_toast_mb: mb(m.toastBytes),
      messages_index_mb: mb(m.indexBytes),
    });
  }
  return { url, seed: result };
}

/** Dead rows of a write run would slow the next run (autovacuum is off for the table: see seed.ts). */
export async function vacuum(url: string): Promise<void> {
  await withClient(url, (client) => client.query('VACUUM chat_sessions, chat_messages')).catch((error: unknown) =>
    log(`warning: VACUUM failed, the next run may see dead rows: ${(error as Error).message}`),
  );
}

export function describeMachine(cluster: Cluster): Record<string, string | number> {
  return { ...machine(), nproc: availableParallelism(), node: process.version, postgres: cluster.version };
}

export function gitDescription(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'openapi.yaml', 'sql', 'package.json'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} with uncommitted changes in src/ (the working tree was measured)` : head;
  } catch {
    return 'unknown';
  }
}

/**
 * Runs every scenario against every server, round by round, alternating who goes first; all the
 * rounds of one scenario before the next, or (`byRound`) every scenario in each round (in reverse
 * order every other round, so that neither of two compared scenarios always goes first).
 */
export async function interleave(
  scenarios: ScenarioName[],
  servers: Server[],
  fixtures: Fixtures,
  postmasterPid: number | undefined,
  urlOf: (server: Server) => string,
  byRound = false,
  roundCount = config.rounds,
): Promise<Measurement[]> {
  const runs: Measurement[] = [];
  const rounds = Array.from({ length: roundCount }, (_, round) => round);
  const plan = byRound
    ? rounds.flatMap((round) => (round % 2 === 0 ? scenarios : [...scenarios].reverse()).map((scenario) => ({ scenario, round })))
    : scenarios.flatMap((scenario) => rounds.map((round) => ({ scenario, round })));
  for (const { scenario, round } of plan) {
    const writes = SCENARIOS.find((s) => s.name === scenario)!.writes;
    const order = round % 2 === 0 ? servers.map((_, i) => i) : servers.map((_, i) => servers.length - 1 - i);
    for (const index of order) {
      const run = await measureOrRestart(scenario, servers, index, fixtures, round, postmasterPid);
      const server = servers[index]!;
      runs.push(run);
      log(
        `${scenario.padEnd(15)} ${server.name.padEnd(11)} round ${round + 1}: ${String(run.rps).padStart(6)} req/s  p50 ${run.p50_ms.toFixed(2)} ms  p99 ${run.p99_ms.toFixed(2)} ms  ` +
          `CPU ${run.server_cpu_ms_per_req.toFixed(3)} ms/req  PG ${run.pg_cpu_ms_per_req?.toFixed(3) ?? 'n/a'} ms/req  RSS ${run.peak_rss_mb} MB` +
          (run.non2xx || run.errors ? `  non-2xx ${run.non2xx} errors ${run.errors}` : ''),
      );
      if (writes) await vacuum(urlOf(server));
    }
  }
  return runs;
}

export async function warmUp(servers: Server[], fixtures: Fixtures, postmasterPid: number | undefined, scenarios: ScenarioName[] = ['mix'], seconds = 3): Promise<void> {
  // The first seconds of a Node process run unoptimised code: let both servers reach steady state.
  for (const server of servers) {
    for (const scenario of scenarios) {
      await measure(scenario, server, fixtures, -1, { connections: config.connections, seconds, warmupSeconds: 0, postmasterPid });
    }
  }
}

