/**
 * The scenarios, and one measured run of a scenario against one server: autocannon on loopback,
 * with the server's CPU time, PostgreSQL's CPU time and the server's peak RSS read from /proc
 * around it.
 */
import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';
import { clusterCpuSeconds, peakRssBytes, processCpuSeconds, resetPeakRss } from './procfs.ts';
import type { Server } from './servers.ts';

export type ScenarioName =
  | 'get' | 'list' | 'list-deep' | 'create' | 'patch' | 'mix'
  | 'append-1k' | 'list-latest-10k' | 'list-latest-100' | 'list-branch-200' | 'stream-delta';

/**
 * `messages` scenarios run round by round (each round: every scenario, ours and the floor), so
 * that ratios between them (10k vs 100, delta vs append) pair runs close in time.
 */
export const SCENARIOS: Array<{ name: ScenarioName; title: string; writes: boolean; messages?: true }> = [
  { name: 'get', title: 'GET /sessions/{id}', writes: false },
  { name: 'list', title: 'GET /sessions?user_id=…&limit=20 (first page)', writes: false },
  { name: 'list-deep', title: 'GET /sessions?user_id=…&limit=20&cursor=… (page 51)', writes: false },
  { name: 'create', title: 'POST /sessions', writes: true },
  { name: 'patch', title: 'PATCH /sessions/{id} (title + status)', writes: true },
  { name: 'mix', title: 'mix: 70% get, 10% list, 10% create, 10% patch', writes: true },
  { name: 'append-1k', title: 'POST /sessions/{id}/messages (one user message of ~1 KB, random session)', writes: true, messages: true },
  { name: 'list-latest-10k', title: 'GET /sessions/{id}/messages?limit=50 (newest 50 of 10,000)', writes: false, messages: true },
  { name: 'list-latest-100', title: 'GET /sessions/{id}/messages?limit=50 (newest 50 of 100)', writes: false, messages: true },
  { name: 'list-branch-200', title: 'GET /sessions/{id}/messages?limit=50 (newest 50 of the current branch of a session with 200 branches, its path through all of them)', writes: false, messages: true },
  { name: 'stream-delta', title: 'POST /sessions/{id}/messages/{message_id}/append (~50 B delta, 20 per in_progress message)', writes: true, messages: true },
];

/** Deltas per streamed message in stream-delta: each connection streams 20 into one message, then takes the next. */
export const DELTAS_PER_STREAM = 20;

export type MessageFixtures = {
  /** Sessions append-1k appends to (the seeded ones, without the two list sessions). */
  appendSessions: string[];
  /** The session holding 10,000 messages, and the one holding 100. */
  long: string;
  short: string;
  /** The session with 200 branches (bench/lib/seed.ts, seedBranched). */
  branched: string;
  /** The next fresh in_progress message for `server` to stream into (bench/lib/fixtures.ts refills them before each run). */
  nextStream: (server: string) => { session: string; message: string };
};

/** What the requests are made of: existing ids, users, and each server's deep cursors. */
export type Fixtures = {
  ids: string[];
  users: string[];
  /** Per server name: query strings `user_id=…&limit=20&cursor=…` of page 51 of heavy users. */
  deepQueries: Record<string, string[]>;
  messages?: MessageFixtures;
  /** Runs before each scenario's warm-up and measured run on `server` (fresh in_progress messages for stream-delta). */
  beforeRun?: (scenario: ScenarioName, server: string) => Promise<void>;
};

const vocabulary = ('the a of to and in is for that with on as it be this you can are query index session message request latency budget ' +
  'customer report invoice deploy rollback function variable migration schema token stream context window retry timeout should would ' +
  'because however therefore first then finally step returns expects handles fails passes measured reduced improved explained').split(' ');

/** `count` texts of about `bytes` bytes of words. */
function texts(count: number, bytes: number): string[] {
  return Array.from({ length: count }, () => {
    let text = '';
    while (text.length < bytes) text += `${vocabulary[Math.floor(Math.random() * vocabulary.length)]} `;
    return text.slice(0, bytes);
  });
}
const KILOBYTE_TEXTS = texts(200, 990); // with its JSON around it, the content is ~1 KB
const DELTAS = texts(200, 50);

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
  const messages = () => {
    if (!fixtures.messages) throw new Error(`${scenario} needs the seeded messages`);
    return fixtures.messages;
  };
  const listLatest = (session: string): RequestSpec => ({ setupRequest: (r) => ({ ...r, method: 'GET', path: `/api/v1/sessions/${session}/messages?limit=50` }) });
  switch (scenario) {
    case 'append-1k': {
      const { appendSessions } = messages();
      const body = () => JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'text', text: any(KILOBYTE_TEXTS) }] }] });
      return [{ setupRequest: (r) => ({ ...r, method: 'POST', path: `/api/v1/sessions/${any(appendSessions)}/messages`, headers: { 'content-type': 'application/json' }, body: body() }) }];
    }
    case 'list-latest-10k':
      return [listLatest(messages().long)];
    case 'list-latest-100':
      return [listLatest(messages().short)];
    case 'list-branch-200':
      return [listLatest(messages().branched)];
    case 'stream-delta': {
      const { nextStream } = messages();
      // autocannon gives each connection a context, reset when it starts the list over: the
      // first delta of a cycle takes a fresh message, the next 19 stream into it.
      type Context = { stream?: { session: string; message: string } };
      return Array.from({ length: DELTAS_PER_STREAM }, (_, index) => ({
        setupRequest: (r: Request, context: Context) => {
          if (index === 0 || !context.stream) context.stream = nextStream(server);
          const { session, message } = context.stream;
          return { ...r, method: 'POST', path: `/api/v1/sessions/${session}/messages/${message}/append`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: any(DELTAS) }) };
        },
      })) as unknown as RequestSpec[];
    }
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

export type LoadOptions = {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  postmasterPid: number | undefined;
  /** Instead of `seconds`: this many requests (however long they take, `seconds` at most). */
  requests?: number;
};

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function fire(server: Server, requests: RequestSpec[], connections: number, seconds: number, amount?: number) {
  const latencies: number[] = [];
  let non2xx = 0;
  const started = performance.now();
  const instance = autocannon({
    url: server.url,
    connections,
    ...(amount ? { amount } : { duration: seconds }),
    requests: requests as never,
  }) as unknown as Promise<autocannon.Result> & EventEmitter & { stop: () => void };
  // With an amount, autocannon has no time limit of its own.
  const cap = amount ? setTimeout(() => instance.stop(), seconds * 1000) : undefined;
  // autocannon's own histogram keeps whole milliseconds; keep every response time instead.
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
    if (statusCode < 200 || statusCode > 299) non2xx++;
  });
  const result = await instance;
  clearTimeout(cap);
  const elapsed = (performance.now() - started) / 1000;
  return { latencies, non2xx, errors: result.errors, elapsed }; // errors include timeouts
}

/** A short warm-up of the same scenario, then the measured run. */
export async function measure(
  scenario: ScenarioName,
  server: Server,
  fixtures: Fixtures,
  round: number,
  { connections, seconds, warmupSeconds, postmasterPid, requests: amount }: LoadOptions,
): Promise<Measurement> {
  await fixtures.beforeRun?.(scenario, server.name);
  const requests = requestsFor(scenario, fixtures, server.name);
  if (warmupSeconds > 0) await fire(server, requests, connections, warmupSeconds);

  resetPeakRss(server.pid);
  const cpu0 = processCpuSeconds(server.pid);
  const pg0 = postmasterPid === undefined ? undefined : clusterCpuSeconds(postmasterPid);
  const run = await fire(server, requests, connections, seconds, amount);
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
