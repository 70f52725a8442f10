/**
 * Medians of the interleaved rounds, ratios against the two floors (each the median of
 * per-round ratios), the targets of issue 14 (and of issue 12 for messages), and the Markdown /
 * JSON of bench/results/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { type Measurement, SCENARIOS } from './load.ts';
import type { Parity } from './fixtures.ts';
import type { Rewrite } from './rewrites.ts';
import { spread } from './startup.ts';

export const OURS = 'ours';
export const FLOOR = 'floor';
/** The floor on the original design's table (bench/lib/original.ts). */
export const ORIGINAL = 'original';

type Metric = 'rps' | 'p50_ms' | 'p99_ms' | 'server_cpu_ms_per_req' | 'pg_cpu_ms_per_req';
const METRICS: Array<{ key: Metric; label: string }> = [
  { key: 'rps', label: 'req/s' },
  { key: 'p50_ms', label: 'p50 latency (ms)' },
  { key: 'p99_ms', label: 'p99 latency (ms)' },
  { key: 'server_cpu_ms_per_req', label: 'server CPU per request (ms)' },
  { key: 'pg_cpu_ms_per_req', label: 'PostgreSQL CPU per request (ms)' },
];

export type Figures = Record<Metric, number | null> & { cpu_ms_per_req: number | null; non2xx: number; errors: number; requests: number; peak_rss_mb: number; rounds: number };

export type Summary = Record<string, Record<string, Figures>>;

export type Target = { target: string; scenario?: string; value: number | null; limit: string; pass: boolean | null };

export type Results = {
  date: string;
  machine: Record<string, string | number>;
  git: string;
  config: Record<string, string | number>;
  seed: Record<string, number>;
  startup_ms: { ours: number[]; floor: number[]; ours_median: number; floor_median: number; original?: number[]; original_median?: number };
  /** The original table's copy: its size and indexes (bench/lib/original.ts). */
  original?: { table_mb: number; index_mb: number; indexes: string[]; ms: number };
  parity: Parity;
  runs: Measurement[];
  summary: Summary;
  /** Per scenario and metric: ours/floor, medians of per-round ratios. */
  ratios: Record<string, Record<string, number | null>>;
  /** The same, ours/original and floor/original (what our schema costs with no code of ours). */
  ratios_original?: Record<string, Record<string, number | null>>;
  floor_vs_original?: Record<string, Record<string, number | null>>;
  deep_vs_first: Record<string, number | null>;
  peak_rss_mb: Record<string, number>;
  /** Server processes that died during the run and were started again. */
  restarts: Array<{ server: string; scenario: string; round: number; death: string }>;
  /** GET by id on the floor, the stack one layer at a time (bench/ladder.ts) and ours: medians. */
  ladder?: {
    rungs: Array<{ server: string; description: string }>;
    runs: Measurement[];
    summary: Record<string, Figures>;
    /** Per rung: rung/floor, medians of per-round ratios. */
    vs_floor?: Record<string, Record<string, number | null>>;
  };
  /** The message scenarios' own comparisons (issue 12), paired by round, and what PostgreSQL writes per delta. */
  messages?: MessageComparisons;
  /** The service under a 256 MB memory limit with the full load (bench/lib/memory.ts). */
  memory?: MemoryResults;
  targets: Target[];
};

export type MemoryVariant = {
  server: string;
  node_options: string[];
  survived: boolean;
  death: string | null;
  peak_rss_mb: number;
  cgroup_peak_mb: number | null;
  /** RSS after the load: anonymous (heap, stacks) and file-backed (the node binary, mostly; charged to whichever cgroup first read it). */
  rss_at_end_mb: { anonymous: number; file: number };
  oom_kills: number | null;
  limit_hits: number | null;
  /** Per scenario, this variant / the first (no flags): server CPU per request, paired. */
  cpu_vs_first: Record<string, number | null>;
  runs: Measurement[];
};
export type MemoryResults = { limit_mb: number; mechanism: string; requests: number; variants: MemoryVariant[] };

type Comparison = Record<string, { cpu_ms_per_req: number | null; pg_cpu_ms_per_req: number | null; p50_ms: number | null }>;
export type MessageComparisons = {
  /** Per server kind: newest 50 of the 10,000-message session / of the 100-message session. */
  long_vs_short: Comparison;
  /** Per server kind: newest 50 of the current branch of a session with 200 branches / of the 100-message (linear) session (absent in older results). */
  branched_vs_linear?: Comparison;
  /** Per server kind: a delta / a 1 KB append. */
  delta_vs_append: Comparison;
  rewrites: Rewrite[];
};

export type ScaleResults = {
  date: string;
  machine: Record<string, string | number>;
  git: string;
  config: Record<string, string | number>;
  sizes: Record<string, number>;
  runs: Measurement[];
  summary: Summary;
  /** Per scenario and server kind: figure at the large size / figure at the small size. */
  ratios: Record<string, Record<string, Record<string, number | null>>>;
  restarts: Array<{ server: string; scenario: string; round: number; death: string }>;
  target: Target;
};

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;
export const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? null : round(a / b);

type Paired = Metric | 'cpu_ms_per_req';
const figure = (run: Measurement, metric: Paired): number | null =>
  metric === 'cpu_ms_per_req' ? (run.pg_cpu_ms_per_req === null ? null : run.server_cpu_ms_per_req + run.pg_cpu_ms_per_req) : run[metric];

/** Median of every metric over the rounds of each (scenario, server). */
export function summarise(runs: Measurement[]): Summary {
  const summary: Summary = {};
  const groups = new Map<string, Measurement[]>();
  for (const run of runs) {
    const key = JSON.stringify([run.scenario, run.server]);
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  for (const [key, group] of groups) {
    const [scenario, server] = JSON.parse(key) as [string, string];
    const figures = {} as Figures;
    for (const { key: metric } of METRICS) {
      const values = group.map((run) => run[metric]).filter((value): value is number => value !== null);
      figures[metric] = values.length ? round(median(values)) : null;
    }
    figures.rps = figures.rps === null ? null : Math.round(figures.rps);
    const totals = group.map((run) => figure(run, 'cpu_ms_per_req')).filter((value): value is number => value !== null);
    figures.cpu_ms_per_req = totals.length ? round(median(totals)) : null;
    figures.non2xx = group.reduce((sum, run) => sum + run.non2xx, 0);
    figures.errors = group.reduce((sum, run) => sum + run.errors, 0);
    figures.requests = group.reduce((sum, run) => sum + run.requests, 0);
    figures.peak_rss_mb = Math.max(...group.map((run) => run.peak_rss_mb));
    figures.rounds = group.length;
    (summary[scenario] ??= {})[server] = figures;
  }
  return summary;
}

/**
 * The median of per-round ratios: run x of round r against run y of the same round, which ran
 * next to it, so that the machine's drift between rounds cancels (a ratio of medians would pair
 * figures from different moments).
 */
export function pairedRatio(xs: Measurement[], ys: Measurement[], metric: Paired): number | null {
  const ratios: number[] = [];
  for (const x of xs) {
    const y = ys.find((run) => run.round === x.round);
    const r = y ? ratio(figure(x, metric), figure(y, metric)) : null;
    if (r !== null) ratios.push(r);
  }
  return ratios.length ? round(median(ratios)) : null;
}

export const runsOf = (runs: Measurement[], scenario: string, server: string) => runs.filter((run) => run.scenario === scenario && run.server === server);

/** Per scenario and metric, a/b as the median of per-round ratios (peak RSS: the ratio of the peaks). */
export function ratiosOf(runs: Measurement[], summary: Summary, a: string, b: string): Record<string, Record<string, number | null>> {
  const ratios: Record<string, Record<string, number | null>> = {};
  for (const [scenario, servers] of Object.entries(summary)) {
    const row: Record<string, number | null> = {};
    const [xs, ys] = [runsOf(runs, scenario, a), runsOf(runs, scenario, b)];
    if (!xs.length || !ys.length) continue;
    for (const key of [...METRICS.map((m) => m.key), 'cpu_ms_per_req' as const]) row[key] = pairedRatio(xs, ys, key);
    row.peak_rss_mb = ratio(servers[a]?.peak_rss_mb, servers[b]?.peak_rss_mb);
    ratios[scenario] = row;
  }
  return ratios;
}

/** The message scenarios compared with each other, per server kind, paired by round. */
export function compareMessages(runs: Measurement[], rewrites: Rewrite[]): MessageComparisons {
  const compare = (x: string, y: string): Comparison => {
    const result: Comparison = {};
    for (const server of [OURS, FLOOR, ORIGINAL]) {
      const [xs, ys] = [runsOf(runs, x, server), runsOf(runs, y, server)];
      if (!xs.length) continue;
      result[server] = { cpu_ms_per_req: pairedRatio(xs, ys, 'cpu_ms_per_req'), pg_cpu_ms_per_req: pairedRatio(xs, ys, 'pg_cpu_ms_per_req'), p50_ms: pairedRatio(xs, ys, 'p50_ms') };
    }
    return result;
  };
  return {
    long_vs_short: compare('list-latest-10k', 'list-latest-100'),
    branched_vs_linear: compare('list-branch-200', 'list-latest-100'),
    delta_vs_append: compare('stream-delta', 'append-1k'), rewrites };
}

/** Scenarios whose requests write the session's row: issue 14's PostgreSQL target against the original table. */
export const SESSION_WRITES = ['create', 'patch', 'append-1k'];
/** Scenarios with issue 14's req/s target (≥ the floor's). */
const THROUGHPUT = ['get', 'list'];
export const MEMORY_LIMIT_MB = 256;

export function targetsOf(results: Omit<Results, 'targets'>): Target[] {
  const targets: Target[] = [];
  const check = (target: string, scenario: string | undefined, value: number | null, limit: string, pass: (v: number) => boolean) =>
    targets.push({ target, ...(scenario ? { scenario } : {}), value, limit, pass: value === null ? null : pass(value) });
  // Issue 14's targets, in every scenario (the message ones included).
  for (const { name, writes } of SCENARIOS) {
    const r = results.ratios[name];
    if (!r) continue;
    const limit = writes ? 1.2 : 1.1;
    check('CPU per request, service + PostgreSQL, ours/floor', name, r.cpu_ms_per_req ?? null, `≤ ${limit.toFixed(2)}`, (v) => v <= limit);
    if (THROUGHPUT.includes(name)) check('req/s, ours/floor', name, r.rps ?? null, '≥ 1.00', (v) => v >= 1);
    check('p99 latency, ours/floor', name, r.p99_ms ?? null, '≤ 1.50', (v) => v <= 1.5);
    const o = results.ratios_original?.[name];
    if (o && SESSION_WRITES.includes(name)) check('PostgreSQL CPU per session write, ours/original', name, o.pg_cpu_ms_per_req ?? null, '≤ 1.30', (v) => v <= 1.3);
  }
  check('start-up to first 200 on /health (ours, ms)', undefined, results.startup_ms.ours_median, '≤ 300', (v) => v <= 300);
  check('peak RSS under load (ours, MB)', undefined, results.peak_rss_mb[OURS] ?? null, '≤ 150', (v) => v <= 150);
  const memory = results.memory?.variants[0];
  if (results.memory) {
    targets.push({
      target: `serves the full load under a ${MEMORY_LIMIT_MB} MB memory limit without a restart (ours, the default command: no V8 flags from the operator; value: OOM kills)`,
      value: memory ? (memory.oom_kills ?? (memory.survived ? 0 : 1)) : null,
      limit: 'survives, every response 2xx',
      pass: memory ? memory.survived && memory.runs.every((run) => run.non2xx + run.errors === 0) : null,
    });
  }
  check('list p50, cursor 50 pages deep / first page (ours)', undefined, results.deep_vs_first[OURS] ?? null, '≤ 1.20', (v) => v <= 1.2);
  // Issue 12's targets for the message scenarios.
  const append = results.ratios['append-1k'];
  if (append) {
    check('CPU per append (service + PostgreSQL), ours/floor', 'append-1k', append.cpu_ms_per_req ?? null, '≤ 1.30', (v) => v <= 1.3);
    check('PostgreSQL CPU per append, ours/floor', 'append-1k', append.pg_cpu_ms_per_req ?? null, '≤ 1.10', (v) => v <= 1.1);
  }
  const m = results.messages;
  if (m && results.summary['list-latest-10k'] && results.summary['list-latest-100']) {
    check('list newest 50, CPU per request (service + PostgreSQL): 10,000-message / 100-message session (ours)', undefined, m.long_vs_short[OURS]?.cpu_ms_per_req ?? null, '≤ 1.10', (v) => v <= 1.1);
  }
  if (m && results.summary['list-branch-200'] && results.summary['list-latest-100']) {
    check('list newest 50, CPU per request (service + PostgreSQL): current branch of a session with 200 branches / linear 100-message session (ours)', undefined, m.branched_vs_linear?.[OURS]?.cpu_ms_per_req ?? null, '≤ 1.20', (v) => v <= 1.2);
  }
  if (m && results.summary['stream-delta'] && results.summary['append-1k']) {
    check('PostgreSQL CPU per delta / per 1 KB append (ours)', undefined, m.delta_vs_append[OURS]?.pg_cpu_ms_per_req ?? null, '≤ 1.20', (v) => v <= 1.2);
  }
  const failures = Object.entries(results.summary).flatMap(([scenario, servers]) =>
    Object.entries(servers).filter(([, f]) => f.non2xx + f.errors > 0).map(([server]) => `${scenario}/${server}`),
  );
  targets.push({ target: 'every response 2xx, no socket errors', value: failures.length, limit: '0 failing runs', pass: failures.length === 0 });
  return targets;
}

// ---------------------------------------------------------------- Markdown

const fmt = (value: number | null | undefined): string => {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  const size = Math.abs(value);
  if (Number.isInteger(value) && size < 1000) return String(value);
  if (size >= 1000) return Math.round(value).toLocaleString('en');
  return value.toFixed(size >= 100 ? 0 : size >= 10 ? 1 : size >= 1 ? 2 : 3);
};
const times = (value: number | null | undefined) => (value === null || value === undefined ? 'n/a' : `×${value.toFixed(2)}`);
const verdict = (pass: boolean | null) => (pass === null ? '— not measured' : pass ? '✅ pass' : '❌ miss');
const mark = (pass: boolean | null | undefined) => (pass === true ? ' ✅' : pass === false ? ' ❌' : '');
/** A target's value as the report writes it: a ratio as ×n, else the figure. */
const valueOf = (t: Target) => (t.target.includes('ours/') || t.target.includes(' / ') ? times(t.value) : fmt(t.value));

function machineLine(machine: Record<string, string | number>): string {
  return `${machine.nproc} cores (${machine.cpu}), ${machine.memory_gib} GiB RAM, Linux ${machine.kernel}, Node.js ${machine.node}, PostgreSQL ${machine.postgres}`;
}

const SERVERS = [OURS, FLOOR, ORIGINAL];
const three = (results: Results, scenario: string, key: keyof Figures) =>
  SERVERS.map((server) => results.summary[scenario]?.[server]).filter(Boolean).map((f) => fmt(f![key] as number | null)).join(' / ');

/** docs/performance.md's tables: every scenario against both floors, every target with its verdict. */
export function renderSummary(results: Results, scale: ScaleResults | undefined): string {
  const targetFor = (scenario: string, prefix: string) => results.targets.find((x) => x.scenario === scenario && x.target.startsWith(prefix));
  const lines = [
    'Figures: ours / floor / original (medians of the rounds); ratios: medians of per-round ratios. "floor" = bench/floor.ts on our schema, "original" = the same on the original design\'s table.',
    '',
    '| scenario | CPU ms/req, service + PostgreSQL | ours ÷ floor | ours ÷ original | PostgreSQL CPU ms/req | ours ÷ original | floor ÷ original | req/s | ours ÷ floor | p99 ms | ours ÷ floor | peak RSS MB |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const { name } of SCENARIOS) {
    if (!results.summary[name]?.[OURS] || !results.summary[name]?.[FLOOR]) continue;
    const r = results.ratios[name] ?? {};
    const o = results.ratios_original?.[name] ?? {};
    const f = results.floor_vs_original?.[name] ?? {};
    lines.push(
      `| ${name} | ${three(results, name, 'cpu_ms_per_req')} | ${times(r.cpu_ms_per_req)}${mark(targetFor(name, 'CPU per request')?.pass)} | ${times(o.cpu_ms_per_req)} | ` +
        `${three(results, name, 'pg_cpu_ms_per_req')} | ${times(o.pg_cpu_ms_per_req)}${mark(targetFor(name, 'PostgreSQL CPU per session write')?.pass)} | ${times(f.pg_cpu_ms_per_req)} | ` +
        `${three(results, name, 'rps')} | ${times(r.rps)}${mark(targetFor(name, 'req/s')?.pass)} | ${three(results, name, 'p99_ms')} | ${times(r.p99_ms)}${mark(targetFor(name, 'p99')?.pass)} | ${three(results, name, 'peak_rss_mb')} |`,
    );
  }
  lines.push('', renderTargets(results, scale));
  return lines.join('\n');
}

/** Every target, one line each, with its value and verdict. */
export function renderTargets(results: Results, scale: ScaleResults | undefined): string {
  const all = [...results.targets, ...(scale ? [{ ...scale.target, target: `${scale.target.target} (BENCH_SCALE=1, ${scale.date.slice(0, 10)})` }] : [])];
  const lines = ['| target | scenario | measured | limit | result |', '|---|---|--:|---|---|'];
  for (const t of all) lines.push(`| ${t.target} | ${t.scenario ?? ''} | ${valueOf(t)} | ${t.limit} | ${verdict(t.pass)} |`);
  const notMeasured = all.filter((t) => t.pass === null).length;
  lines.push(
    '',
    `**Targets: ${all.filter((t) => t.pass === true).length} pass, ${all.filter((t) => t.pass === false).length} miss${notMeasured ? `, ${notMeasured} not measured` : ''}.** ` +
      `CPU per request = the service's CPU plus PostgreSQL's (every backend and background process of the cluster), per request, from /proc.`,
  );
  return lines.join('\n');
}

export function renderMarkdown(results: Results, scale: ScaleResults | undefined): string {
  const lines: string[] = [];
  const c = results.config;
  lines.push(`# make bench — ${results.date.slice(0, 10)}`, '');
  lines.push(`- Date: ${results.date}`);
  lines.push(`- Machine: ${machineLine(results.machine)}`);
  lines.push(`- Code: ${results.git}`);
  lines.push(
    `- Data: ${Number(results.seed.rows).toLocaleString('en')} sessions over ${Number(results.seed.users).toLocaleString('en')} users ` +
      `(table ${fmt(Number(results.seed.table_mb))} MB, indexes ${fmt(Number(results.seed.index_mb))} MB), seeded in ${fmt(Number(results.seed.ms) / 1000)} s` +
      (results.seed.messages
        ? `; ${Number(results.seed.messages).toLocaleString('en')} messages over ${Number(results.seed.message_sessions).toLocaleString('en')} sessions ` +
          `(table ${fmt(results.seed.messages_table_mb)} MB, TOAST ${fmt(results.seed.messages_toast_mb)} MB, indexes ${fmt(results.seed.messages_index_mb)} MB), seeded in ${fmt(Number(results.seed.messages_ms) / 1000)} s`
        : ''),
  );
  if (results.original) {
    lines.push(
      `- The original table (a copy of the same database, chat_sessions rebuilt with the original design's eight columns and indexes ${results.original.indexes.join(', ')}; chat_messages unchanged): ` +
        `table ${fmt(results.original.table_mb)} MB, indexes ${fmt(results.original.index_mb)} MB, made in ${fmt(results.original.ms / 1000)} s`,
    );
  }
  lines.push(
    `- Load: autocannon, ${c.connections} connections on loopback, ${c.warmup_seconds} s warm-up + ${c.seconds} s measured per run, ` +
      `${c.rounds} rounds per scenario interleaved (ours, floor, original, then original, floor, ours, …; the message scenarios all in each round); ` +
      `figures are medians of the rounds, ratios medians of per-round ratios. DB pool ${c.pool_size} on every server.`,
  );
  lines.push('', '## At a glance', '', renderSummary(results, scale), '');
  lines.push(
    '## The original table: what it serves',
    '',
    'The same requests, and as far as the table allows the same statements as the floor (bench/floor.ts, FLOOR_SCHEMA=original):',
    '- get, list, list-deep, create, patch: the floor\'s statements without the columns the table lacks (`version`, `message_count`, `last_message_at`); the ETag comes from `updated_at`. ' +
      'A page per user is `WHERE user_id = $1 AND is_active ORDER BY created_at DESC, id DESC` (after the cursor: `AND (created_at, id) < (…)`): with only `idx_chat_sessions_user_id` (user_id), PostgreSQL reads all of the user\'s rows and sorts them (top-N), where our schema reads 21 index entries; a patch that changes `status` (every one here) is not HOT there either (`idx_chat_sessions_status`).',
    '- append-1k: no counters to read or move. The natural statement moves the session\'s `updated_at` (and so takes its row lock) and numbers the message after the session\'s newest (one probe of `chat_messages_pkey`); two appends to one session at once can pick the same seq, and the second is sent again (bench/lib/message-sql.ts, originalAppendStatement).',
    '- list-latest-10k, list-latest-100: the same statement without `s.message_count`; stream-delta: the very same statement (it reads the session, it does not write it). chat_messages is ours in both databases (the original design had no messages).',
    '',
  );
  lines.push('## In detail', '');
  lines.push('| scenario | figure | ours | floor | original | ours/floor | ours/original | floor/original |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|');
  for (const { name, title } of SCENARIOS) {
    const servers = results.summary[name];
    if (!servers) continue;
    const r = results.ratios[name] ?? {};
    const o = results.ratios_original?.[name] ?? {};
    const f = results.floor_vs_original?.[name] ?? {};
    const rows: Array<[string, keyof Figures | 'failures', string | null]> = [
      ['req/s', 'rps', 'rps'],
      ['p50 latency (ms)', 'p50_ms', 'p50_ms'],
      ['p99 latency (ms)', 'p99_ms', 'p99_ms'],
      ['CPU / request, service + PostgreSQL (ms)', 'cpu_ms_per_req', 'cpu_ms_per_req'],
      ['server CPU / request (ms)', 'server_cpu_ms_per_req', 'server_cpu_ms_per_req'],
      ['PostgreSQL CPU / request (ms)', 'pg_cpu_ms_per_req', 'pg_cpu_ms_per_req'],
      ['peak RSS (MB)', 'peak_rss_mb', 'peak_rss_mb'],
      ['non-2xx / errors', 'failures', null],
    ];
    rows.forEach(([label, key, ratioKey], index) => {
      const value = (server: string) => {
        const figures = servers[server];
        if (!figures) return '';
        return fmt(key === 'failures' ? figures.non2xx + figures.errors : (figures[key] as number | null));
      };
      const x = (row: Record<string, number | null>) => (ratioKey && row[ratioKey] != null ? times(row[ratioKey]) : '');
      lines.push(`| ${index === 0 ? `**${name}** ${title.replaceAll('|', '\\|')}` : ''} | ${label} | ${value(OURS)} | ${value(FLOOR)} | ${value(ORIGINAL)} | ${x(r)} | ${x(o)} | ${x(f)} |`);
    });
  }
  lines.push('');
  lines.push('| figure | ours | floor | original |');
  lines.push('|---|--:|--:|--:|');
  lines.push(
    `| start-up to first 200 on /api/v1/health, DB up (median of ${results.startup_ms.ours.length} interleaved, PostgreSQL idle; ms) | ${fmt(results.startup_ms.ours_median)} | ${fmt(results.startup_ms.floor_median)} | ${fmt(results.startup_ms.original_median)} |`,
  );
  const spreads = [results.startup_ms.ours, results.startup_ms.floor, results.startup_ms.original].map((samples) => (samples?.length ? spread(samples) : ''));
  lines.push(`| start-up spread (ms) | ${spreads.join(' | ')} |`);
  lines.push(`| peak RSS under load, all scenarios (MB) | ${fmt(results.peak_rss_mb[OURS])} | ${fmt(results.peak_rss_mb[FLOOR])} | ${fmt(results.peak_rss_mb[ORIGINAL])} |`);
  lines.push(`| list p50: cursor 50 pages deep / first page (paired by round) | ${times(results.deep_vs_first[OURS])} | ${times(results.deep_vs_first[FLOOR])} | ${times(results.deep_vs_first[ORIGINAL])} |`);
  if (!scale) lines.push('| list p50: 1M rows / 100k rows | — not run (BENCH_SCALE=1 make bench) | | |');
  lines.push('');
  if (results.memory) lines.push(renderMemory(results.memory), '');
  if (results.messages) lines.push('## Messages (issue 12)', '', renderMessages(results), '');

  const missed = results.targets.filter((t) => t.pass === false);
  if (missed.length) {
    lines.push('Missed:');
    for (const t of missed) lines.push(`- ${t.target}${t.scenario ? ` — ${t.scenario}` : ''}: ${valueOf(t)} (target ${t.limit})`);
    lines.push('');
  }

  if (results.restarts?.length) {
    lines.push('Server processes that ended without being asked to, were started again, and had their run repeated:');
    for (const r of results.restarts) lines.push(`- ${r.server}, ${r.scenario} round ${r.round + 1}: ${r.death}`);
    lines.push('');
  }

  if (results.ladder) lines.push(renderLadder(results.ladder), '');

  lines.push('## SQL parity (the floor issues the statements ours issues)', '');
  if (!results.parity.checked) {
    lines.push('Not checked (needs the embedded PostgreSQL, whose log the harness reads).');
  } else {
    for (const s of results.parity.scenarios) {
      lines.push(`- ${s.scenario}: ${s.same ? 'same statement' : '**differs**'} (ours ${s.ours.length} statement(s) per request, floor ${s.floor.length})`);
    }
    if (results.parity.extra_statements.length) {
      lines.push(`- ours also sends, after every statement, when it releases the connection: \`${results.parity.extra_statements.join('`, `')}\` (Slonik's resetConnection); the floor does not.`);
    }
  }
  lines.push('');

  if (scale) lines.push(renderScale(scale), '');

  lines.push('## Every run', '');
  lines.push('| scenario | server | round | req/s | p50 ms | p99 ms | server CPU ms/req | PG CPU ms/req | RSS MB | non-2xx | errors |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const run of results.runs) {
    lines.push(
      `| ${run.scenario} | ${run.server} | ${run.round + 1} | ${run.rps} | ${fmt(run.p50_ms)} | ${fmt(run.p99_ms)} | ${fmt(run.server_cpu_ms_per_req)} | ${fmt(run.pg_cpu_ms_per_req)} | ${fmt(run.peak_rss_mb)} | ${run.non2xx} | ${run.errors} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The service under the memory limit: did it survive, how high did it go, what did each V8 flag cost. */
export function renderMemory(memory: MemoryResults): string {
  const lines = [
    `## Under a ${memory.limit_mb} MB memory limit`,
    '',
    `Enforced by: ${memory.mechanism}. Each variant of ours in a cgroup of its own, started in it, then every scenario once (${memory.requests.toLocaleString('en')} requests each, 16 connections, after a warm-up of 1,000 requests of the mix), the variants interleaved scenario by scenario; no restart allowed.`,
    '',
  ];
  if (!memory.variants.length) return [...lines, 'Not run.'].join('\n');
  lines.push(
    '| node options | survived | OOM kills | times at the limit | peak RSS MB | cgroup peak MB (charged: anonymous memory + page cache it read first) | RSS at the end, anonymous / file-backed MB | non-2xx / errors | server CPU/req vs no flags (median over scenarios) |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const v of memory.variants) {
    const failures = v.runs.reduce((sum, run) => sum + run.non2xx + run.errors, 0);
    const cpu = Object.values(v.cpu_vs_first).filter((x): x is number => x !== null);
    lines.push(
      `| ${v.node_options.length ? `\`${v.node_options.join(' ')}\`` : 'none (the default command: the service sizes its heap, src/heap.ts)'} | ${v.survived ? '✅ yes' : `❌ no (${v.death})`} | ${fmt(v.oom_kills)} | ${fmt(v.limit_hits)} | ${fmt(v.peak_rss_mb)} | ${fmt(v.cgroup_peak_mb)} | ${fmt(v.rss_at_end_mb?.anonymous)} / ${fmt(v.rss_at_end_mb?.file)} | ${failures} | ${cpu.length ? times(median(cpu)) : ''} |`,
    );
  }
  if (memory.variants.length > 1) {
    const scenarios = Object.keys(memory.variants[0]!.cpu_vs_first);
    lines.push('', `| scenario | ${memory.variants.map((v) => (v.node_options.length ? `\`${v.node_options.join(' ')}\`` : 'none')).join(' | ')} |`, `|---|${memory.variants.map(() => '--:').join('|')}|`);
    for (const scenario of scenarios) {
      const cells = memory.variants.map((v) => {
        const run = v.runs.find((x) => x.scenario === scenario);
        return run ? `${fmt(run.server_cpu_ms_per_req)} ms CPU, ${fmt(run.peak_rss_mb)} MB${v === memory.variants[0] ? '' : ` (CPU ${times(v.cpu_vs_first[scenario])})`}` : 'n/a';
      });
      lines.push(`| ${scenario} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** Issue 12's targets for the message scenarios, and what PostgreSQL writes per delta. */
export function renderMessages(results: Results): string {
  const m = results.messages!;
  const t = (prefix: string) => results.targets.find((x) => x.target.startsWith(prefix));
  const v = (x: Target | undefined) => (x?.pass === true ? '✅ pass' : x?.pass === false ? '❌ miss' : '— not measured');
  const r = results.ratios['append-1k'] ?? {};
  const lines = [
    '| messages: figure (median of per-round ratios) | ours | floor | original | target | result |',
    '|---|--:|--:|--:|---|---|',
    `| append 1 KB: CPU per append, service + PostgreSQL, ours/floor | ${times(r.cpu_ms_per_req)} | | | ≤ ×1.30 | ${v(t('CPU per append'))} |`,
    `| append 1 KB: PostgreSQL CPU per append, ours/floor | ${times(r.pg_cpu_ms_per_req)} | | | ≤ ×1.10 | ${v(t('PostgreSQL CPU per append'))} |`,
    `| newest 50 of a 10,000-message / of a 100-message session: CPU per request, service + PostgreSQL | ${times(m.long_vs_short[OURS]?.cpu_ms_per_req)} | ${times(m.long_vs_short[FLOOR]?.cpu_ms_per_req)} | ${times(m.long_vs_short[ORIGINAL]?.cpu_ms_per_req)} | ≤ ×1.10 | ${v(t('list newest 50'))} |`,
    `| … PostgreSQL CPU alone; p50 latency | ${times(m.long_vs_short[OURS]?.pg_cpu_ms_per_req)}; ${times(m.long_vs_short[OURS]?.p50_ms)} | ${times(m.long_vs_short[FLOOR]?.pg_cpu_ms_per_req)}; ${times(m.long_vs_short[FLOOR]?.p50_ms)} | ${times(m.long_vs_short[ORIGINAL]?.pg_cpu_ms_per_req)}; ${times(m.long_vs_short[ORIGINAL]?.p50_ms)} | | |`,
    `| newest 50 of the current branch of a session with 200 branches / of a linear 100-message session: CPU per request, service + PostgreSQL | ${times(m.branched_vs_linear?.[OURS]?.cpu_ms_per_req)} | ${times(m.branched_vs_linear?.[FLOOR]?.cpu_ms_per_req)} | ${times(m.branched_vs_linear?.[ORIGINAL]?.cpu_ms_per_req)} | ≤ ×1.20 | ${v(t('list newest 50, CPU per request (service + PostgreSQL): current branch'))} |`,
    `| a ~50 B delta / a 1 KB append: PostgreSQL CPU per request | ${times(m.delta_vs_append[OURS]?.pg_cpu_ms_per_req)} | ${times(m.delta_vs_append[FLOOR]?.pg_cpu_ms_per_req)} | ${times(m.delta_vs_append[ORIGINAL]?.pg_cpu_ms_per_req)} | ≤ ×1.20 | ${v(t('PostgreSQL CPU per delta'))} |`,
    `| … CPU per request, service + PostgreSQL | ${times(m.delta_vs_append[OURS]?.cpu_ms_per_req)} | ${times(m.delta_vs_append[FLOOR]?.cpu_ms_per_req)} | ${times(m.delta_vs_append[ORIGINAL]?.cpu_ms_per_req)} | | |`,
  ];
  if (m.rewrites.length) {
    lines.push(
      '',
      `What PostgreSQL writes per statement, no load running (${m.rewrites[0]!.statements} statements each, each its own transaction, after a checkpoint and one unmeasured statement; bench/lib/rewrites.ts):`,
      '',
      '| statement | content before (JSON bytes) | stored (bytes, where) | WAL bytes | WAL records | of which full-page images (bytes) | WAL by resource manager (bytes) | heap growth (bytes) | TOAST growth (bytes) | rows updated | HOT |',
      '|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|',
    );
    for (const w of m.rewrites) {
      const kinds = w.wal_by_rmgr ? Object.entries(w.wal_by_rmgr).sort((a, b) => b[1] - a[1]).map(([k, bytes]) => `${k} ${fmt(bytes)}`).join(', ') : 'n/a';
      const where = w.content_bytes ? `${fmt(w.stored_bytes)}, ${w.toasted ? 'TOAST' : 'inline'}` : '';
      const hot = w.hot_share === null ? 'n/a' : `${Math.round(w.hot_share * 100)} %`;
      lines.push(
        `| ${w.what} | ${w.content_bytes ? fmt(w.content_bytes) : ''} | ${where} | ${fmt(w.wal_bytes_per_statement)} | ${fmt(w.wal_records_per_statement)} | ${fmt(w.fpi_bytes_per_statement)} | ${kinds} | ${fmt(w.heap_bytes_per_statement)} | ${fmt(w.toast_bytes_per_statement)} | ${fmt(w.updates_per_statement)} | ${hot} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The get scenario on the stack built up one layer at a time: what the stack costs, what ours adds. */
function renderLadder(ladder: NonNullable<Results['ladder']>): string {
  const floor = ladder.summary[FLOOR];
  const lines = [
    '## Where the time goes: GET /sessions/{id}, the stack built up one layer at a time',
    '',
    'Each rung adds one layer to the one above it, with no validation, middleware, logging or metrics (bench/ladder.ts); the last row is ours. Same load as the get scenario, interleaved; figures are medians, × floor the median of per-round ratios.',
    '',
    '| server | what it is | req/s | × floor | server CPU ms/req | × floor | CPU ms/req, service + PostgreSQL | × floor | peak RSS MB |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const { server, description } of ladder.rungs) {
    const figures = ladder.summary[server];
    const x = ladder.vs_floor?.[server];
    lines.push(
      `| ${server} | ${description} | ${fmt(figures?.rps)} | ${times(x ? x.rps : ratio(figures?.rps, floor?.rps))} | ${fmt(figures?.server_cpu_ms_per_req)} | ${times(x ? x.server_cpu_ms_per_req : ratio(figures?.server_cpu_ms_per_req, floor?.server_cpu_ms_per_req))} | ` +
        `${fmt(figures?.cpu_ms_per_req)} | ${times(x?.cpu_ms_per_req)} | ${fmt(figures?.peak_rss_mb)} |`,
    );
  }
  return lines.join('\n');
}

export function renderScale(scale: ScaleResults): string {
  const lines: string[] = [];
  const small = Number(scale.sizes.small).toLocaleString('en');
  const large = Number(scale.sizes.large).toLocaleString('en');
  lines.push(`## Table size: ${large} rows vs ${small} rows (BENCH_SCALE=1, ${scale.date})`, '');
  lines.push(`Machine: ${machineLine(scale.machine)}. Code: ${scale.git}. Two databases in one cluster, a service and a floor on each, runs interleaved; ${scale.config.rounds} rounds; figures are medians, × the median of per-round ratios.`, '');
  lines.push(`| scenario | server | p50 ms at ${small} | at ${large} | ×  | p99 ms at ${small} | at ${large} | × | req/s at ${small} | at ${large} | × | PG CPU ms/req at ${small} | at ${large} | × |`);
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const scenario of Object.keys(scale.ratios)) {
    for (const kind of [OURS, FLOOR]) {
      const a = scale.summary[scenario]?.[`${kind}-small`];
      const b = scale.summary[scenario]?.[`${kind}-large`];
      const r = scale.ratios[scenario]?.[kind] ?? {};
      lines.push(
        `| ${scenario} | ${kind} | ${fmt(a?.p50_ms)} | ${fmt(b?.p50_ms)} | ${times(r.p50_ms)} | ${fmt(a?.p99_ms)} | ${fmt(b?.p99_ms)} | ${times(r.p99_ms)} | ${fmt(a?.rps)} | ${fmt(b?.rps)} | ${times(r.rps)} | ${fmt(a?.pg_cpu_ms_per_req)} | ${fmt(b?.pg_cpu_ms_per_req)} | ${times(r.pg_cpu_ms_per_req)} |`,
      );
    }
  }
  lines.push('', `Target: ours' list p50 at ${large} rows ≤ ×1.20 of ${small}: ${times(scale.target.value)} — ${verdict(scale.target.pass)}.`);
  return lines.join('\n');
}

export function readJson<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}
