/**
 * The scenarios, and one measured run of a scenario against one server: autocannon on loopback,
 * with the server's CPU time, PostgreSQL's CPU time and the server's peak RSS read from /proc
 * around it.
 */
import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';
import { clusterCpuSeconds, peakRssBytes, processCpuSeconds, resetPeakRss } from './procfs.ts';
import type { Server } from './servers.ts';

export type ScenarioName = 'get' | 'list' | 'list-deep' | 'create' | 'patch' | 'mix';

export const SCENARIOS: Array<{ name: ScenarioName; title: string; writes: boolean }> = [
  { name: 'get', title: 'GET /sessions/{id}', writes: false },
  { name: 'list', title: 'GET /sessions?user_id=…&limit=20 (first page)', writes: false },
  { name: 'list-deep', title: 'GET /sessions?user_id=…&limit=20&cursor=… (page 51)', writes: false },
  { name: 'create', title: 'POST /sessions', writes: true },
  { name: 'patch', title: 'PATCH /sessions/{id} (title + status)', writes: true },
  { name: 'mix', title: 'mix: 70% get, 10% list, 10% create, 10% patch', writes: true },
];

/** What the requests are made of: existing ids, users, and each server's deep cursors. */
export type Fixtures = {
  ids: string[];
  users: string[];
  /** Per server name: query strings `user_id=…&limit=20&cursor=…` of page 51 of heavy users. */
  deepQueries: Record<string, string[]>;
};

type Request = { method: string; path: string; headers?: Record<string, string>; body?: string };
type RequestSpec = { setupRequest: (request: Request) => Request };

const titles = ['Refine the launch plan', 'Follow-up: churn analysis', 'Draft reply to legal', 'Notes on the Q4 roadmap', 'Résumé review'];
const models = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'];

function requestsFor(scenario: ScenarioName, fixtures: Fixtures, server: string): RequestSpec[] {
  const { ids, users } = fixtures;
  const deep = fixtures.deepQueries[server] ?? [];
  const any = <T>(values: T[]) => values[Math.floor(Math.random() * values.length)]!;
  const get: RequestSpec = { setupRequest: (r) => ({ ...r, method: 'GET', path: `/api/v1/sessions/${any(ids)}` }) };
  const list: RequestSpec = { setupRequest: (r) => ({ ...r, method: 'GET', path: `/api/v1/sessions?user_id=${any(users)}&limit=20` }) };
  const listDeep: RequestSpec = { setupRequest: (r) => ({ ...r, method: 'GET', path: `/api/v1/sessions?${any(deep)}` }) };
  const create: RequestSpec = {
    setupRequest: (r) => ({
      ...r,
      method: 'POST',
      path: '/api/v1/sessions',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        user_id: any(users),
        title: `${any(titles)} #${Math.floor(Math.random() * 10_000)}`,
        metadata: { model: any(models), source: 'web', locale: 'en-US' },
      }),
    }),
  };
  let flip = false;
  const patch: RequestSpec = {
    setupRequest: (r) => {
      flip = !flip;
      return {
        ...r,
        method: 'PATCH',
        path: `/api/v1/sessions/${any(ids)}`,
        headers: { 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify({ title: `${any(titles)} (edited)`, status: flip ? 'archived' : 'active' }),
      };
    },
  };
  switch (scenario) {
    case 'get':
      return [get];
    case 'list':
      return [list];
    case 'list-deep':
      if (!deep.length) throw new Error(`no deep cursors for ${server}`);
      return [listDeep];
    case 'create':
      return [create];
    case 'patch':
      return [patch];
    case 'mix':
      // Every connection cycles through these ten: exactly 70/10/10/10.
      return [get, get, list, get, create, get, get, patch, get, get];
  }
}

export type Measurement = {
  scenario: ScenarioName;
  server: string;
  round: number;
  seconds: number;
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
  errors: number;
  server_cpu_ms_per_req: number;
  pg_cpu_ms_per_req: number | null;
  peak_rss_mb: number;
};

export type LoadOptions = { connections: number; seconds: number; warmupSeconds: number; postmasterPid: number | undefined };

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function fire(server: Server, requests: RequestSpec[], connections: number, seconds: number) {
  const latencies: number[] = [];
  let non2xx = 0;
  const started = performance.now();
  const instance = autocannon({
    url: server.url,
    connections,
    duration: seconds,
    requests: requests as never,
  }) as unknown as Promise<autocannon.Result> & EventEmitter;
  // autocannon's own histogram keeps whole milliseconds; keep every response time instead.
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
    if (statusCode < 200 || statusCode > 299) non2xx++;
  });
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  return { latencies, non2xx, errors: result.errors, elapsed }; // errors include timeouts
}

/** A short warm-up of the same scenario, then the measured run. */
export async function measure(
  scenario: ScenarioName,
  server: Server,
  fixtures: Fixtures,
  round: number,
  { connections, seconds, warmupSeconds, postmasterPid }: LoadOptions,
): Promise<Measurement> {
  const requests = requestsFor(scenario, fixtures, server.name);
  if (warmupSeconds > 0) await fire(server, requests, connections, warmupSeconds);

  resetPeakRss(server.pid);
  const cpu0 = processCpuSeconds(server.pid);
  const pg0 = postmasterPid === undefined ? undefined : clusterCpuSeconds(postmasterPid);
  const run = await fire(server, requests, connections, seconds);
  const cpu1 = processCpuSeconds(server.pid);
  const pg1 = postmasterPid === undefined ? undefined : clusterCpuSeconds(postmasterPid);
  const peak = peakRssBytes(server.pid);

  const count = run.latencies.length;
  const sorted = Float64Array.from(run.latencies).sort();
  return {
    scenario,
    server: server.name,
    round,
    seconds: round3(run.elapsed),
    requests: count,
    rps: Math.round(count / run.elapsed),
    p50_ms: round3(percentile(sorted, 50)),
    p99_ms: round3(percentile(sorted, 99)),
    non2xx: run.non2xx,
    errors: run.errors,
    server_cpu_ms_per_req: round3(((cpu1 - cpu0) * 1000) / Math.max(1, count)),
    pg_cpu_ms_per_req: pg0 === undefined || pg1 === undefined ? null : round3(((pg1 - pg0) * 1000) / Math.max(1, count)),
    peak_rss_mb: Math.round((peak / 1024 / 1024) * 10) / 10,
  };
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;
