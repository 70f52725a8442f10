/**
 * Medians of the interleaved rounds, ratios ours/floor, the targets of issue 6, and the
 * Markdown / JSON of bench/results/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { type Measurement, SCENARIOS } from './load.ts';
import type { Parity } from './fixtures.ts';
import type { Rewrite } from './rewrites.ts';

export const OURS = 'ours';
export const FLOOR = 'floor';

type Metric = 'rps' | 'p50_ms' | 'p99_ms' | 'server_cpu_ms_per_req' | 'pg_cpu_ms_per_req';
const METRICS: Array<{ key: Metric; label: string }> = [
  { key: 'rps', label: 'req/s' },
  { key: 'p50_ms', label: 'p50 latency (ms)' },
  { key: 'p99_ms', label: 'p99 latency (ms)' },
  { key: 'server_cpu_ms_per_req', label: 'server CPU per request (ms)' },
  { key: 'pg_cpu_ms_per_req', label: 'PostgreSQL CPU per request (ms)' },
];

export type Figures = Record<Metric, number | null> & { non2xx: number; errors: number; requests: number; peak_rss_mb: number; rounds: number };

export type Summary = Record<string, Record<string, Figures>>;

export type Target = { target: string; scenario?: string; value: number | null; limit: string; pass: boolean | null };

export type Results = {
  date: string;
  machine: Record<string, string | number>;
  git: string;
  config: Record<string, string | number>;
  seed: Record<string, number>;
  startup_ms: { ours: number[]; floor: number[]; ours_median: number; floor_median: number };
  parity: Parity;
  runs: Measurement[];
  summary: Summary;
  ratios: Record<string, Record<string, number | null>>;
  deep_vs_first: Record<string, number | null>;
  peak_rss_mb: Record<string, number>;
  /** Server processes that died during the run and were started again. */
  restarts: Array<{ server: string; scenario: string; round: number; death: string }>;
  /** GET by id on the floor, the stack one layer at a time (bench/ladder.ts) and ours: medians. */
  ladder?: { rungs: Array<{ server: string; description: string }>; runs: Measurement[]; summary: Record<string, Figures> };
  /** The message scenarios' own comparisons (issue 12), paired by round, and what PostgreSQL writes per delta. */
  messages?: MessageComparisons;
  targets: Target[];
};

type Comparison = Record<string, { cpu_ms_per_req: number | null; pg_cpu_ms_per_req: number | null; p50_ms: number | null }>;
export type MessageComparisons = {
  /** Per server kind: newest 50 of the 10,000-message session / of the 100-message session. */
  long_vs_short: Comparison;
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
    figures.non2xx = group.reduce((sum, run) => sum + run.non2xx, 0);
    figures.errors = group.reduce((sum, run) => sum + run.errors, 0);
    figures.requests = group.reduce((sum, run) => sum + run.requests, 0);
    figures.peak_rss_mb = Math.max(...group.map((run) => run.peak_rss_mb));
    figures.rounds = group.length;
    (summary[scenario] ??= {})[server] = figures;
  }
  return summary;
}

type Paired = Metric | 'cpu_ms_per_req';
const figure = (run: Measurement, metric: Paired): number | null =>
  metric === 'cpu_ms_per_req' ? (run.pg_cpu_ms_per_req === null ? null : run.server_cpu_ms_per_req + run.pg_cpu_ms_per_req) : run[metric];

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

const runsOf = (runs: Measurement[], scenario: string, server: string) => runs.filter((run) => run.scenario === scenario && run.server === server);

/** Per scenario and metric, ours/floor as the median of per-round ratios (peak RSS: the ratio of the peaks). */
export function ratiosOf(runs: Measurement[], summary: Summary, a: string, b: string): Record<string, Record<string, number | null>> {
  const ratios: Record<string, Record<string, number | null>> = {};
  for (const [scenario, servers] of Object.entries(summary)) {
    const row: Record<string, number | null> = {};
    const [xs, ys] = [runsOf(runs, scenario, a), runsOf(runs, scenario, b)];
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
    for (const server of [OURS, FLOOR]) {
      const [xs, ys] = [runsOf(runs, x, server), runsOf(runs, y, server)];
      result[server] = { cpu_ms_per_req: pairedRatio(xs, ys, 'cpu_ms_per_req'), pg_cpu_ms_per_req: pairedRatio(xs, ys, 'pg_cpu_ms_per_req'), p50_ms: pairedRatio(xs, ys, 'p50_ms') };
    }
    return result;
  };
  return { long_vs_short: compare('list-latest-10k', 'list-latest-100'), delta_vs_append: compare('stream-delta', 'append-1k'), rewrites };
}

export function targetsOf(results: Omit<Results, 'targets'>): Target[] {
  const targets: Target[] = [];
  const check = (target: string, scenario: string | undefined, value: number | null, limit: string, pass: (v: number) => boolean) =>
    targets.push({ target, ...(scenario ? { scenario } : {}), value, limit, pass: value === null ? null : pass(value) });
  // Issue 6's targets, for the session scenarios; the message scenarios have issue 12's (below).
  for (const { name } of SCENARIOS.filter((s) => !s.messages)) {
    const r = results.ratios[name];
    if (!r) continue;
    check('server CPU per request, ours/floor', name, r.server_cpu_ms_per_req ?? null, '≤ 1.20', (v) => v <= 1.2);
    check('req/s, ours/floor', name, r.rps ?? null, '≥ 0.95', (v) => v >= 0.95);
    check('PostgreSQL CPU per request, ours/floor', name, r.pg_cpu_ms_per_req ?? null, '≤ 1.05', (v) => v <= 1.05);
    check('p99 latency, ours/floor', name, r.p99_ms ?? null, '≤ 2.00', (v) => v <= 2);
  }
  check('list p50, cursor 50 pages deep / first page (ours)', undefined, results.deep_vs_first[OURS] ?? null, '≤ 1.20', (v) => v <= 1.2);
  check('start-up to first 200 on /health (ours, ms)', undefined, results.startup_ms.ours_median, '≤ 500', (v) => v <= 500);
  check('peak RSS under load (ours, MB)', undefined, results.peak_rss_mb[OURS] ?? null, '≤ 150', (v) => v <= 150);
  const append = results.ratios['append-1k'];
  if (append) {
    check('CPU per append (server + PostgreSQL), ours/floor', 'append-1k', append.cpu_ms_per_req ?? null, '≤ 1.30', (v) => v <= 1.3);
    check('PostgreSQL CPU per append, ours/floor', 'append-1k', append.pg_cpu_ms_per_req ?? null, '≤ 1.10', (v) => v <= 1.1);
  }
  const m = results.messages;
  if (m && results.summary['list-latest-10k']) {
    check('list newest 50, CPU per request (server + PostgreSQL): 10,000-message / 100-message session (ours)', undefined, m.long_vs_short[OURS]?.cpu_ms_per_req ?? null, '≤ 1.10', (v) => v <= 1.1);
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

function machineLine(machine: Record<string, string | number>): string {
  return `${machine.nproc} cores (${machine.cpu}), ${machine.memory_gib} GiB RAM, Linux ${machine.kernel}, Node.js ${machine.node}, PostgreSQL ${machine.postgres}`;
}

/** One line per scenario, every figure as ours / floor (×ratio) with its verdict: docs/performance.md's table. */
export function renderSummary(results: Results, scale: ScaleResults | undefined): string {
  const lines = [
    '| scenario | req/s ours / floor | p99 ms ours / floor | server CPU ms/req ours / floor | PostgreSQL CPU ms/req ours / floor | peak RSS MB ours / floor |',
    '|---|--:|--:|--:|--:|--:|',
  ];
  const mark = (scenario: string, prefix: string) => {
    const t = results.targets.find((x) => x.scenario === scenario && x.target.startsWith(prefix));
    return t?.pass === true ? ' ✅' : t?.pass === false ? ' ❌' : '';
  };
  for (const { name } of SCENARIOS) {
    const ours = results.summary[name]?.[OURS];
    const floor = results.summary[name]?.[FLOOR];
    if (!ours || !floor) continue;
    const r = results.ratios[name] ?? {};
    const pair = (a: number | null, b: number | null, x: number | null | undefined, verdict: string) => `${fmt(a)} / ${fmt(b)} (${times(x)})${verdict}`;
    lines.push(
      `| ${name} | ${pair(ours.rps, floor.rps, r.rps, mark(name, 'req/s'))} | ${pair(ours.p99_ms, floor.p99_ms, r.p99_ms, mark(name, 'p99'))} | ` +
        `${pair(ours.server_cpu_ms_per_req, floor.server_cpu_ms_per_req, r.server_cpu_ms_per_req, mark(name, 'server CPU'))} | ` +
        `${pair(ours.pg_cpu_ms_per_req, floor.pg_cpu_ms_per_req, r.pg_cpu_ms_per_req, mark(name, 'PostgreSQL CPU'))} | ${pair(ours.peak_rss_mb, floor.peak_rss_mb, r.peak_rss_mb, '')} |`,
    );
  }
  const find = (prefix: string) => results.targets.find((t) => !t.scenario && t.target.startsWith(prefix));
  const v = (t: Target | undefined) => (t?.pass === true ? '✅ pass' : t?.pass === false ? '❌ miss' : '— not measured');
  lines.push('', '| figure | ours | floor | target | result |', '|---|--:|--:|---|---|');
  lines.push(`| start-up to the first 200 on /api/v1/health, database up (median of ${results.startup_ms.ours.length}) | ${fmt(results.startup_ms.ours_median)} ms | ${fmt(results.startup_ms.floor_median)} ms | ≤ 500 ms | ${v(find('start-up'))} |`);
  lines.push(`| peak RSS under load (all scenarios) | ${fmt(results.peak_rss_mb[OURS])} MB | ${fmt(results.peak_rss_mb[FLOOR])} MB | ≤ 150 MB | ${v(find('peak RSS'))} |`);
  lines.push(`| list p50, cursor 50 pages deep / first page | ${times(results.deep_vs_first[OURS])} | ${times(results.deep_vs_first[FLOOR])} | ≤ ×1.20 | ${v(find('list p50'))} |`);
  if (scale) {
    lines.push(
      `| list p50, ${Number(scale.sizes.large).toLocaleString('en')} rows / ${Number(scale.sizes.small).toLocaleString('en')} rows (BENCH_SCALE=1, ${scale.date.slice(0, 10)}) | ${times(scale.ratios['list']?.[OURS]?.p50_ms)} | ${times(scale.ratios['list']?.[FLOOR]?.p50_ms)} | ≤ ×1.20 | ${v(scale.target)} |`,
    );
  }
  if (results.messages) lines.push('', renderMessages(results));
  const all = [...results.targets, ...(scale ? [scale.target] : [])];
  lines.push(
    '',
    `Targets: ${all.filter((t) => t.pass === true).length} pass, ${all.filter((t) => t.pass === false).length} miss (✅/❌ in the cells of the session scenarios: req/s ≥ ×0.95, p99 ≤ ×2, server CPU ≤ ×1.2, PostgreSQL CPU ≤ ×1.05 of the floor's; of append-1k: PostgreSQL CPU ≤ ×1.1). Ratios are medians of per-round ratios.`,
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
  lines.push(
    `- Load: autocannon, ${c.connections} connections on loopback, ${c.warmup_seconds} s warm-up + ${c.seconds} s measured per run, ` +
      `${c.rounds} rounds per scenario interleaved (ours, floor, then floor, ours, …; the message scenarios all in each round); ` +
      `figures are medians of the rounds, ratios medians of per-round ratios. DB pool ${c.pool_size} on both.`,
  );
  lines.push('', '## At a glance', '', renderSummary(results, scale), '', '## In detail', '');
  lines.push('| scenario | figure | ours | floor | ours/floor | target | result |');
  lines.push('|---|---|--:|--:|--:|---|---|');
  for (const { name, title } of SCENARIOS) {
    const servers = results.summary[name];
    if (!servers) continue;
    const ours = servers[OURS];
    const floor = servers[FLOOR];
    const r = results.ratios[name] ?? {};
    const target = (label: string) => results.targets.find((t) => t.scenario === name && t.target.startsWith(label));
    const rows: Array<[string, number | null | undefined, number | null | undefined, number | null | undefined, Target | undefined]> = [
      ['req/s', ours?.rps, floor?.rps, r.rps, target('req/s')],
      ['p50 latency (ms)', ours?.p50_ms, floor?.p50_ms, r.p50_ms, undefined],
      ['p99 latency (ms)', ours?.p99_ms, floor?.p99_ms, r.p99_ms, target('p99')],
      ['server CPU / request (ms)', ours?.server_cpu_ms_per_req, floor?.server_cpu_ms_per_req, r.server_cpu_ms_per_req, target('server CPU')],
      ['PostgreSQL CPU / request (ms)', ours?.pg_cpu_ms_per_req, floor?.pg_cpu_ms_per_req, r.pg_cpu_ms_per_req, target('PostgreSQL CPU')],
      ['peak RSS (MB)', ours?.peak_rss_mb, floor?.peak_rss_mb, r.peak_rss_mb, undefined],
      ['non-2xx / errors', ours ? ours.non2xx + ours.errors : null, floor ? floor.non2xx + floor.errors : null, null, undefined],
    ];
    rows.forEach(([label, a, b, x, t], index) => {
      const cells = [
        index === 0 ? `**${name}** ${title.replaceAll('|', '\\|')}` : '',
        label,
        fmt(a),
        fmt(b),
        x === null || x === undefined ? '' : times(x),
        t ? t.limit : '',
        t ? verdict(t.pass) : '',
      ];
      lines.push(`| ${cells.join(' | ')} |`);
    });
  }
  lines.push('');
  lines.push('| figure | ours | floor | ours/floor | target | result |');
  lines.push('|---|--:|--:|--:|---|---|');
  const find = (prefix: string) => results.targets.find((t) => !t.scenario && t.target.startsWith(prefix));
  const startup = find('start-up');
  lines.push(
    `| start-up to first 200 on /api/v1/health, DB up (median of ${results.startup_ms.ours.length}, ms) | ${fmt(results.startup_ms.ours_median)} | ${fmt(results.startup_ms.floor_median)} | ${times(ratio(results.startup_ms.ours_median, results.startup_ms.floor_median))} | ≤ 500 ms | ${verdict(startup?.pass ?? null)} |`,
  );
  const rss = find('peak RSS');
  lines.push(
    `| peak RSS under load, all scenarios (MB) | ${fmt(results.peak_rss_mb[OURS])} | ${fmt(results.peak_rss_mb[FLOOR])} | ${times(ratio(results.peak_rss_mb[OURS], results.peak_rss_mb[FLOOR]))} | ≤ 150 MB | ${verdict(rss?.pass ?? null)} |`,
  );
  const deep = find('list p50');
  lines.push(
    `| list p50: cursor 50 pages deep / first page | ${times(results.deep_vs_first[OURS])} | ${times(results.deep_vs_first[FLOOR])} | | ≤ ×1.20 | ${verdict(deep?.pass ?? null)} |`,
  );
  if (scale) {
    const r = scale.ratios['list']?.[OURS]?.p50_ms ?? null;
    const rf = scale.ratios['list']?.[FLOOR]?.p50_ms ?? null;
    lines.push(
      `| list p50: ${Number(scale.sizes.large).toLocaleString('en')} rows / ${Number(scale.sizes.small).toLocaleString('en')} rows (BENCH_SCALE run of ${scale.date.slice(0, 10)}) | ${times(r)} | ${times(rf)} | | ≤ ×1.20 | ${verdict(scale.target.pass)} |`,
    );
  } else {
    lines.push('| list p50: 1M rows / 100k rows | | | | ≤ ×1.20 | — not run (BENCH_SCALE=1 make bench) |');
  }
  const failures = results.targets.find((t) => t.target.startsWith('every response'));
  lines.push(`| responses that were not 2xx, socket errors (runs with any) | ${failures?.value ?? 'n/a'} | | | 0 | ${verdict(failures?.pass ?? null)} |`);
  lines.push('');
  if (results.messages) lines.push('## Messages (issue 12)', '', renderMessages(results), '');

  const all = [...results.targets, ...(scale ? [scale.target] : [])];
  const missed = all.filter((t) => t.pass === false);
  lines.push(`**Targets: ${all.filter((t) => t.pass === true).length} pass, ${missed.length} miss${all.some((t) => t.pass === null) ? `, ${all.filter((t) => t.pass === null).length} not measured` : ''}.**`);
  if (missed.length) {
    lines.push('', 'Missed:');
    for (const t of missed) {
      const value = t.target.includes('ours/floor') || t.target.includes(' / ') ? times(t.value) : fmt(t.value);
      lines.push(`- ${t.target}${t.scenario ? ` — ${t.scenario}` : ''}: ${value} (target ${t.limit})`);
    }
  }
  lines.push('');

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

/** Issue 12's targets for the message scenarios, and what PostgreSQL writes per delta. */
export function renderMessages(results: Results): string {
  const m = results.messages!;
  const t = (prefix: string) => results.targets.find((x) => x.target.startsWith(prefix));
  const v = (x: Target | undefined) => (x?.pass === true ? '✅ pass' : x?.pass === false ? '❌ miss' : '— not measured');
  const r = results.ratios['append-1k'] ?? {};
  const lines = [
    '| messages: figure (median of per-round ratios) | ours | floor | target | result |',
    '|---|--:|--:|---|---|',
    `| append 1 KB: CPU per append, server + PostgreSQL, ours/floor | ${times(r.cpu_ms_per_req)} | | ≤ ×1.30 | ${v(t('CPU per append'))} |`,
    `| append 1 KB: PostgreSQL CPU per append, ours/floor | ${times(r.pg_cpu_ms_per_req)} | | ≤ ×1.10 | ${v(t('PostgreSQL CPU per append'))} |`,
    `| newest 50 of a 10,000-message / of a 100-message session: CPU per request, server + PostgreSQL | ${times(m.long_vs_short[OURS]?.cpu_ms_per_req)} | ${times(m.long_vs_short[FLOOR]?.cpu_ms_per_req)} | ≤ ×1.10 | ${v(t('list newest 50'))} |`,
    `| … PostgreSQL CPU alone; p50 latency | ${times(m.long_vs_short[OURS]?.pg_cpu_ms_per_req)}; ${times(m.long_vs_short[OURS]?.p50_ms)} | ${times(m.long_vs_short[FLOOR]?.pg_cpu_ms_per_req)}; ${times(m.long_vs_short[FLOOR]?.p50_ms)} | | |`,
    `| a ~50 B delta / a 1 KB append: PostgreSQL CPU per request | ${times(m.delta_vs_append[OURS]?.pg_cpu_ms_per_req)} | ${times(m.delta_vs_append[FLOOR]?.pg_cpu_ms_per_req)} | ≤ ×1.20 | ${v(t('PostgreSQL CPU per delta'))} |`,
    `| … CPU per request, server + PostgreSQL | ${times(m.delta_vs_append[OURS]?.cpu_ms_per_req)} | ${times(m.delta_vs_append[FLOOR]?.cpu_ms_per_req)} | | |`,
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
    'Each rung adds one layer to the one above it, with no validation, middleware, logging or metrics (bench/ladder.ts); the last row is ours. Same load as the get scenario, interleaved, medians.',
    '',
    '| server | what it is | req/s | × floor | server CPU ms/req | × floor | peak RSS MB |',
    '|---|---|--:|--:|--:|--:|--:|',
  ];
  for (const { server, description } of ladder.rungs) {
    const figures = ladder.summary[server];
    lines.push(
      `| ${server} | ${description} | ${fmt(figures?.rps)} | ${times(ratio(figures?.rps, floor?.rps))} | ${fmt(figures?.server_cpu_ms_per_req)} | ${times(ratio(figures?.server_cpu_ms_per_req, floor?.server_cpu_ms_per_req))} | ${fmt(figures?.peak_rss_mb)} |`,
    );
  }
  return lines.join('\n');
}

export function renderScale(scale: ScaleResults): string {
  const lines: string[] = [];
  const small = Number(scale.sizes.small).toLocaleString('en');
  const large = Number(scale.sizes.large).toLocaleString('en');
  lines.push(`## Table size: ${large} rows vs ${small} rows (BENCH_SCALE=1, ${scale.date})`, '');
  lines.push(`Machine: ${machineLine(scale.machine)}. Code: ${scale.git}. Two databases in one cluster, a service and a floor on each, runs interleaved; ${scale.config.rounds} rounds, medians.`, '');
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
