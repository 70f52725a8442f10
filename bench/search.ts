/**
 * `make bench-search`: GET /messages/search on a seeded PostgreSQL (issue 13's targets).
 *   search-rare     a word in 1 of 2,000 messages of one user's 100,000 (50 matches)
 *   search-common   a word in every second message of the same user's 100,000 (50,000 matches)
 *   scale           the rare word for a user of 10,000 messages, in a table of 10,000 messages
 *                   and in one of BENCH_SEARCH_ROWS (1,000,000), every user using the same
 *                   vocabulary (the rare word is as rare for everyone: its posting list grows
 *                   with the table)
 * Targets: common p99 ≤ 3× rare p99; scale p50 at 1,000,000 ≤ 1.5× at 10,000. Runs are
 * interleaved round by round; ratios are medians of per-round ratios. Only our service is
 * measured (no floor sends these statements yet). Writes bench/results/search.{md,json}.
 *
 * Environment: BENCH_SEARCH_ROWS (1000000), BENCH_SECONDS (4), BENCH_ROUNDS (3),
 * BENCH_CONNECTIONS (16), BENCH_DATABASE_URL (else the embedded PostgreSQL).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { config, describeMachine, gitDescription, log, RESULTS, startOurs } from './lib/common.ts';
import { startCluster, withClient } from './lib/postgres.ts';
import { cleanUp, onCleanup, type Server } from './lib/servers.ts';

const TOTAL = Number(process.env.BENCH_SEARCH_ROWS ?? 1_000_000);
const SMALL_USER_MESSAGES = 10_000;
const HEAVY_USER_MESSAGES = Math.min(100_000, Math.max(TOTAL - SMALL_USER_MESSAGES, 0));
const PER_SESSION = 1_000;

/**
 * `count` messages of `user` in sessions of PER_SESSION, ~150 bytes of words from a vocabulary of
 * 5,000 each, `common` in every second message and `rareword` in 1 of 2,000. `offset` spreads
 * created_at so that users' messages interleave in time as little as they would.
 */
async function seedUser(url: string, user: string, count: number, offset: number): Promise<void> {
  const sessions = Math.ceil(count / PER_SESSION);
  await withClient(url, async (client) => {
    await client.query(
      `INSERT INTO chat_sessions (id, user_id, title, message_count, last_seq)
       SELECT gen_random_uuid(), $1, 'session ' || s, $2, $2 FROM generate_series(1, $3) s`,
      [user, PER_SESSION, sessions],
    );
    await client.query(
      `INSERT INTO chat_messages (session_id, seq, id, user_id, role, content, content_bytes, status, created_at)
       SELECT cs.id, g.seq, gen_random_uuid(), cs.user_id, CASE WHEN g.seq % 2 = 0 THEN 'assistant' ELSE 'user' END,
         jsonb_build_array(jsonb_build_object('type', 'text', 'text', concat_ws(' ',
           'w' || (n * 7 % 5000), 'w' || (n * 13 % 4999), 'w' || (n * 17 % 4993), 'w' || (n * 31 % 4987), 'w' || (n * 37 % 4973),
           'w' || (n * 41 % 4969), 'w' || (n * 43 % 4967), 'w' || (n * 47 % 4957), 'w' || (n * 53 % 4951), 'w' || (n * 59 % 4943),
           'the', 'and', 'of', 'w' || (n * 61 % 4937), 'w' || (n * 67 % 4933), 'w' || (n * 71 % 4931), 'w' || (n * 73 % 4919),
           CASE WHEN n % 2 = 0 THEN 'common' END, CASE WHEN n % 2000 = 7 THEN 'rareword' END))),
         150, 'completed', now() - make_interval(secs => ($3::int - n))
       FROM (SELECT id, user_id, row_number() OVER (ORDER BY id) AS k FROM chat_sessions WHERE user_id = $1) cs,
            generate_series(1, $2::int) g(seq),
            LATERAL (SELECT ($4::int + (cs.k::int - 1) * $2::int + g.seq)::int AS n) x`,
      [user, PER_SESSION, TOTAL + 1, offset],
    );
  });
}

async function seed(url: string, total: number): Promise<void> {
  const started = performance.now();
  await seedUser(url, 'searcher', SMALL_USER_MESSAGES, 0);
  let done = SMALL_USER_MESSAGES;
  if (total > done) {
    await seedUser(url, 'heavy', HEAVY_USER_MESSAGES, done);
    done += HEAVY_USER_MESSAGES;
  }
  for (let i = 1; done < total; i++) {
    const count = Math.min(10_000, total - done);
    await seedUser(url, `other_${i}`, count, done);
    done += count;
  }
  await withClient(url, (client) => client.query('VACUUM ANALYZE chat_sessions, chat_messages'));
  log(`seeded ${done.toLocaleString('en')} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

type Run = { scenario: string; server: string; round: number; p50_ms: number; p99_ms: number; rps: number; hits: number };

async function run(scenario: string, server: Server, query: string, round: number): Promise<Run> {
  const url = `${server.url}/api/v1/messages/search?${query}`;
  const first = (await (await fetch(url)).json()) as { items: unknown[] };
  const result = await autocannon({ url, connections: config.connections, duration: config.seconds });
  if (result.non2xx || result.errors) throw new Error(`${scenario} on ${server.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const measured = { scenario, server: server.name, round, p50_ms: result.latency.p50, p99_ms: result.latency.p99, rps: Math.round(result.requests.average), hits: first.items.length };
  log(`${scenario.padEnd(14)} ${server.name.padEnd(6)} round ${round}: p50 ${measured.p50_ms} ms, p99 ${measured.p99_ms} ms, ${measured.rps} req/s`);
  return measured;
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)]! : NaN;
};
const pairedRatio = (runs: Run[], a: [string, string], b: [string, string], key: 'p50_ms' | 'p99_ms') =>
  median(
    [...new Set(runs.map((r) => r.round))].map((round) => {
      const x = runs.find((r) => r.round === round && r.scenario === a[0] && r.server === a[1])!;
      const y = runs.find((r) => r.round === round && r.scenario === b[0] && r.server === b[1])!;
      return x[key] / y[key];
    }),
  );

async function main(): Promise<void> {
  log(`make bench-search: ${TOTAL.toLocaleString('en')} messages vs ${SMALL_USER_MESSAGES.toLocaleString('en')}, ${config.connections} connections, ${config.rounds} rounds × ${config.seconds} s`);
  const cluster = await startCluster(log);
  onCleanup(() => cluster.stop());
  try {
    const small = await cluster.createDatabase('chat_sessions_search_small');
    const large = await cluster.createDatabase('chat_sessions_search_large');
    await seed(small, SMALL_USER_MESSAGES);
    await seed(large, TOTAL);
    const servers = { small: (await startOurs('small', small)).server, large: (await startOurs('large', large)).server };
    const plan: Array<[string, Server, string]> = [
      ['scale-rare', servers.small, 'q=rareword&user_id=searcher'],
      ['scale-rare', servers.large, 'q=rareword&user_id=searcher'],
      ...(TOTAL > SMALL_USER_MESSAGES
        ? ([
            ['search-rare', servers.large, 'q=rareword&user_id=heavy'],
            ['search-common', servers.large, 'q=common&user_id=heavy'],
          ] as Array<[string, Server, string]>)
        : []),
    ];
    for (const [scenario, server, query] of plan) await run(scenario, server, query, -1); // warm-up
    const runs: Run[] = [];
    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 ? [...plan].reverse() : plan;
      for (const [scenario, server, query] of order) runs.push(await run(scenario, server, query, round));
    }
    const scale = pairedRatio(runs, ['scale-rare', 'large'], ['scale-rare', 'small'], 'p50_ms');
    const common = TOTAL > SMALL_USER_MESSAGES ? pairedRatio(runs, ['search-common', 'large'], ['search-rare', 'large'], 'p99_ms') : NaN;
    const targets = [
      { target: `rare word p50, ${TOTAL.toLocaleString('en')} messages / 10,000`, value: scale, limit: '≤ 1.50', pass: scale <= 1.5 },
      { target: 'common word p99 / rare word p99 (one user, 100,000 messages)', value: common, limit: '≤ 3.00', pass: common <= 3 },
    ];
    const results = { date: new Date().toISOString(), machine: describeMachine(cluster), git: gitDescription(), config: { ...config, total: TOTAL }, runs, targets };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'search.json'), `${JSON.stringify(results, null, 2)}\n`);
    const rows = ['scale-rare', 'search-rare', 'search-common'].flatMap((scenario) =>
      ['small', 'large'].flatMap((server) => {
        const own = runs.filter((r) => r.scenario === scenario && r.server === server);
        return own.length ? [`| ${scenario} | ${server} | ${own[0]!.hits} | ${median(own.map((r) => r.p50_ms))} | ${median(own.map((r) => r.p99_ms))} | ${median(own.map((r) => r.rps))} |`] : [];
      }),
    );
    const markdown = [
      `# Search benchmark (${results.date})`,
      '',
      `${TOTAL.toLocaleString('en')} messages in the large table, 10,000 in the small one; ${config.connections} connections, ${config.rounds} rounds × ${config.seconds} s, medians.`,
      '',
      '| scenario | table | hits on page 1 | p50 ms | p99 ms | req/s |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      '| target | value | limit | pass |',
      '|---|---|---|---|',
      ...targets.map((t) => `| ${t.target} | ${Number.isFinite(t.value) ? t.value.toFixed(2) : 'n/a'} | ${t.limit} | ${Number.isFinite(t.value) ? (t.pass ? 'yes' : 'NO') : 'n/a'} |`),
      '',
    ].join('\n');
    writeFileSync(join(RESULTS, 'search.md'), markdown);
    console.log(`\n${markdown}`);
    for (const server of Object.values(servers)) await server.stop();
  } finally {
    await cleanUp();
  }
}

await main();
