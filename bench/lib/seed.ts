/**
 * Seeds chat_sessions with SQL alone (INSERT … SELECT generate_series): realistic titles and
 * metadata, created_at spread over two years, a few soft-deleted and archived sessions.
 *
 * Users: 1,000 by default. Like most products, a few heavy users own a large share: the first
 * 10 users (user_0000–user_0009) own 20 % of the sessions (2,000 each at 100k rows), the others
 * share the rest on a skewed curve (~50 to ~250 each) — so "50 pages deep" exists for real users.
 */
import pg from 'pg';

export const POWER_USERS = 10;
const POWER_SHARE = 0.2;
const BATCH = 200_000;

export type SeedResult = { rows: number; users: number; ms: number; tableBytes: number; indexBytes: number };

export const userId = (index: number) => `user_${String(index).padStart(4, '0')}`;

const prefixes = [
  'Help with', 'Questions about', 'Debugging', 'Summarize', 'Draft', 'Review', 'Explain', 'Ideas for',
  'Notes on', 'Compare', 'Translate', 'Plan', 'Fix', 'Brainstorm', 'Outline', 'Research',
];
const topics = [
  'the quarterly report', 'a Postgres deadlock', 'the onboarding email', 'Kubernetes ingress rules',
  'landing page copy', 'the Q3 roadmap', 'customer churn analysis', 'React hooks', 'a GDPR data request',
  'invoice disputes', 'the sales deck', 'a Lisbon itinerary', 'flaky unit tests', 'API rate limits',
  'SQL window functions', 'embedding search quality', 'contract clause 7.2', 'my résumé', 'error budgets',
  'release notes 4.2', 'the café menu', 'Terraform state drift', '日本語のメール', 'the 🚀 launch checklist',
  'pricing experiments', 'a memory leak in Node.js', 'the hiring rubric', 'OKRs for next quarter',
];
const models = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'claude-sonnet-4', 'llama-3.1-70b', 'mistral-large'];
const sources = ['web', 'web', 'web', 'ios', 'android', 'api', 'slack'];
const locales = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'ja-JP', 'pt-BR', 'es-ES'];

const literal = (values: string[]) => `ARRAY[${values.map((value) => `'${value.replaceAll("'", "''")}'`).join(', ')}]::text[]`;
const pick = (values: string[], random: string) => `(${literal(values)})[1 + floor(${random} * ${values.length})::int]`;

function insertBatch(from: number, to: number, users: number): string {
  const others = users - POWER_USERS;
  return `
    WITH src AS MATERIALIZED (
      SELECT i, random() AS r_user, random() AS r_prefix, random() AS r_topic, random() AS r_variant,
             random() AS r_status, random() AS r_active, random() AS r_created, random() AS r_updated,
             random() AS r_version, random() AS r_model, random() AS r_source, random() AS r_locale,
             random() AS r_tokens, random() AS r_extra
      FROM generate_series(${from}, ${to}) AS i
    )
    INSERT INTO chat_sessions (user_id, title, status, is_active, metadata, created_at, updated_at, version)
    SELECT
      'user_' || lpad((CASE WHEN r_user < ${POWER_SHARE}
                            THEN floor(r_user / ${POWER_SHARE} * ${POWER_USERS})
                            ELSE ${POWER_USERS} + least(${others - 1}, floor(${others} * power((r_user - ${POWER_SHARE}) / ${1 - POWER_SHARE}, 1.5)))
                       END)::int::text, 4, '0'),
      CASE WHEN r_variant < 0.04 THEN NULL
           ELSE ${pick(prefixes, 'r_prefix')} || ' ' || ${pick(topics, 'r_topic')} ||
                CASE WHEN r_variant > 0.92 THEN ' (v' || (2 + floor(r_version * 4))::int || ')'
                     WHEN r_variant > 0.86 THEN ' — follow-up on ticket #' || (1000 + floor(r_tokens * 90000))::int
                     WHEN r_variant > 0.85 THEN ': ' || repeat('long context, ', 12) || 'and more'
                     ELSE '' END
      END,
      CASE WHEN r_status < 0.80 THEN 'active' WHEN r_status < 0.95 THEN 'archived' ELSE 'closed' END,
      r_active >= 0.05,
      jsonb_build_object(
        'model', ${pick(models, 'r_model')},
        'source', ${pick(sources, 'r_source')},
        'locale', ${pick(locales, 'r_locale')},
        'tokens', floor(r_tokens * 12000)::int,
        'temperature', round((r_extra * 1.2)::numeric, 1)
      )
      || CASE WHEN r_extra < 0.3
              THEN jsonb_build_object('rag', jsonb_build_object('index', 'kb-' || floor(r_topic * 40)::int, 'top_k', 8, 'rerank', r_extra < 0.15,
                                                                'filters', jsonb_build_object('lang', ${pick(['en', 'de', 'fr', 'ja'], 'r_locale')})))
              ELSE '{}'::jsonb END
      || CASE WHEN r_extra > 0.8 THEN jsonb_build_object('tags', jsonb_build_array('support', ${pick(['billing', 'bug', 'feature', 'escalated'], 'r_prefix')}))
              ELSE '{}'::jsonb END,
      created,
      least(now(), created + power(r_updated, 3) * interval '30 days'),
      1 + floor(power(r_version, 4) * 10)::int
    FROM src, LATERAL (SELECT date_trunc('milliseconds', now() - r_created * interval '730 days') AS created) AS c`;
}

/**
 * Inserts `rows` sessions. The secondary indexes are dropped first and rebuilt after (their own
 * definitions, read from pg_indexes), which is much faster than maintaining them row by row.
 */
export async function seed(url: string, rows: number, users: number, log: (line: string) => void): Promise<SeedResult> {
  if (users <= POWER_USERS) throw new Error(`BENCH_USERS must be more than ${POWER_USERS}`);
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET maintenance_work_mem = '256MB'`);
    await client.query('SELECT setseed(0.42)'); // the same data on every run
    const { rows: indexes } = await client.query<{ name: string; definition: string }>(`
      SELECT indexname AS name, indexdef AS definition FROM pg_indexes
      WHERE schemaname = current_schema() AND tablename = 'chat_sessions'
        AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'chat_sessions'::regclass)`);
    for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);
    for (let from = 1; from <= rows; from += BATCH) {
      await client.query(insertBatch(from, Math.min(rows, from + BATCH - 1), users));
      log(`  seeded ${Math.min(rows, from + BATCH - 1).toLocaleString('en')} / ${rows.toLocaleString('en')} rows`);
    }
    for (const index of indexes) await client.query(index.definition);
    await client.query('VACUUM (ANALYZE) chat_sessions');
    // Background autovacuum would land in whichever run is being measured: the harness vacuums
    // between runs instead (bench/run.ts), outside the measured windows.
    await client.query('ALTER TABLE chat_sessions SET (autovacuum_enabled = false)');
    // The seed's dirty pages would otherwise be written out by the checkpointer during the first
    // measurements (start-up times): write them now. Needs a superuser or pg_checkpoint; else skipped.
    await client.query('CHECKPOINT').catch(() => {});
    const { rows: sizes } = await client.query<{ table: string; indexes: string }>(
      `SELECT pg_table_size('chat_sessions') AS table, pg_indexes_size('chat_sessions') AS indexes`,
    );
    return {
      rows,
      users,
      ms: Math.round(performance.now() - started),
      tableBytes: Number(sizes[0]!.table),
      indexBytes: Number(sizes[0]!.indexes),
    };
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------- messages

/** Sessions tagged in their metadata (`bench`), so that the fixtures find them again. */
export const LIST_LONG = 'list-10k';
export const LIST_SHORT = 'list-100';
/** The session with 200 branches (seedBranched). */
export const LIST_BRANCHED = 'list-branched-200';
export const LONG_MESSAGES = 10_000;
export const SHORT_MESSAGES = 100;
/** Seconds between two messages of a session (created_at). */
const MESSAGE_GAP_S = 7;
/** Fragments of ~300 words (~1,800 characters) the message texts are cut from. */
const FRAGMENTS = 1000;

export type MessageSeedResult = { messages: number; sessions: number; ms: number; tableBytes: number; toastBytes: number; indexBytes: number };

const words = [
  'the', 'a', 'of', 'to', 'and', 'in', 'is', 'for', 'that', 'with', 'on', 'as', 'it', 'be', 'this', 'you', 'can', 'are',
  'query', 'index', 'session', 'message', 'request', 'latency', 'budget', 'customer', 'report', 'invoice', 'deploy',
  'rollback', 'function', 'variable', 'migration', 'schema', 'token', 'stream', 'context', 'window', 'retry', 'timeout',
  'Kubernetes', 'PostgreSQL', 'React', 'TypeScript', 'résumé', 'naïve', 'café', 'Zürich', '日本語', 'データ', '🚀', '✅',
  'should', 'would', 'because', 'however', 'therefore', 'first,', 'then', 'finally.', 'e.g.', 'step', '1.', '2.', '3.',
  'returns', 'expects', 'handles', 'fails', 'passes', 'measured', 'reduced', 'improved', 'explained', 'summarised',
];

/**
 * Messages with SQL alone: `total` over `sessions` sessions (active, not closed, of the seeded
 * chat_sessions), one of them holding 10,000 and one 100 (tagged for the list scenarios; their
 * newest 50 have the same roles and sizes, position by position, so that only the session's
 * length differs), the others ~50–150 each (mean total/sessions). Roles alternate user /
 * assistant (a system prompt first in a fifth of sessions, every fifth assistant turn a tool
 * result); text parts of 20–400 characters from users, a quarter of assistant replies ~1 KB, tool
 * results up to 1.5 KB; assistants carry model, finish_reason and usage. Ids are md5(session, seq),
 * so each parent_id is computed, not looked up. The session counters (message_count, last_seq,
 * current_message_id, current_run_id, current_seq, last_message_at) are set to match; each session is one run. Constraints and indexes are dropped
 * first and rebuilt after, as for sessions.
 */
export async function seedMessages(url: string, total: number, sessions: number, log: (line: string) => void): Promise<MessageSeedResult> {
  const others = sessions - 2;
  const rest = total - LONG_MESSAGES - SHORT_MESSAGES;
  if (others < 1 || rest < others) {
    throw new Error(`BENCH_MESSAGES (${total}) must be at least ${LONG_MESSAGES + SHORT_MESSAGES + others}: 10,100 for the list sessions and one per other session`);
  }
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET maintenance_work_mem = '256MB'`);
    await client.query('SELECT setseed(0.24)');
    // Text is cut from fragments of random words: varied, and about as compressible as prose.
    // Short fragments, each row taking the head of one: cutting deep into one long text costs a
    // detoast and a walk through its multibyte characters per row.
    await client.query(`
      CREATE TEMP TABLE bench_corpus AS
      SELECT f AS fragment, string_agg((${literal(words)})[1 + floor(random() * ${words.length})::int], ' ') AS text
      FROM generate_series(0, ${FRAGMENTS - 1}) AS f, generate_series(1, 300) AS w
      GROUP BY f`);
    await client.query('ALTER TABLE bench_corpus ADD PRIMARY KEY (fragment)');
    await client.query('ANALYZE bench_corpus');
    // Which sessions hold how many: ord 1 holds 10,000, ord 2 holds 100, the others a share of the
    // rest growing from ½ to 1½ × the mean (cumulative (x + x²)/2), so that the total is exact.
    const { rowCount } = await client.query(`
      CREATE TEMP TABLE bench_message_sessions AS
      WITH chosen AS (
        SELECT id, created_at, row_number() OVER (ORDER BY id) AS ord FROM (
          SELECT id, created_at FROM chat_sessions
          WHERE is_active AND status <> 'closed' AND created_at < now() - interval '3 days'
          ORDER BY id LIMIT ${sessions}) AS s
      )
      SELECT id, created_at, ord,
             CASE ord WHEN 1 THEN ${LONG_MESSAGES} WHEN 2 THEN ${SHORT_MESSAGES}
                      ELSE (floor(${rest}::numeric * ((ord - 2) / ${others}::numeric + power((ord - 2) / ${others}::numeric, 2)) / 2)
                          - floor(${rest}::numeric * ((ord - 3) / ${others}::numeric + power((ord - 3) / ${others}::numeric, 2)) / 2))::int
             END AS n
      FROM chosen`);
    if (rowCount !== sessions) throw new Error(`only ${rowCount} sessions can take messages: raise BENCH_ROWS or lower BENCH_MESSAGE_SESSIONS`);

    const { rows: constraints } = await client.query<{ name: string; definition: string }>(`
      SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
      WHERE conrelid = 'chat_messages'::regclass AND contype IN ('p', 'u', 'f') ORDER BY contype DESC`);
    const { rows: indexes } = await client.query<{ name: string; definition: string }>(`
      SELECT indexname AS name, indexdef AS definition FROM pg_indexes
      WHERE schemaname = current_schema() AND tablename = 'chat_messages'
        AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'chat_messages'::regclass)`);
    for (const c of constraints) await client.query(`ALTER TABLE chat_messages DROP CONSTRAINT ${c.name}`);
    for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);

    const batches = 4;
    for (let b = 0; b < batches; b++) {
      const from = Math.floor((b * sessions) / batches) + 1;
      const to = Math.floor(((b + 1) * sessions) / batches);
      await client.query(insertMessages(from, to));
      log(`  seeded messages of sessions ${from.toLocaleString('en')}–${to.toLocaleString('en')} / ${sessions.toLocaleString('en')}`);
    }
    for (const c of constraints.reverse()) await client.query(`ALTER TABLE chat_messages ADD CONSTRAINT ${c.name} ${c.definition}`);
    for (const index of indexes) await client.query(index.definition);

    await client.query(`
      UPDATE chat_sessions s
      SET message_count = t.n, last_seq = t.n,
          current_message_id = md5(s.id::text || ':' || t.n)::uuid, current_run_id = 1, current_seq = t.n,
          last_message_at = date_trunc('milliseconds', t.created_at + t.n * interval '${MESSAGE_GAP_S} seconds'),
          metadata = s.metadata || CASE t.ord WHEN 1 THEN '{"bench":"${LIST_LONG}"}'::jsonb WHEN 2 THEN '{"bench":"${LIST_SHORT}"}'::jsonb ELSE '{}'::jsonb END
      FROM bench_message_sessions t WHERE s.id = t.id`);
    // Each session is linear: one run (id 1), whose first message starts it.
    await client.query(`
      INSERT INTO chat_message_runs (session_id, run_id, path_runs, path_seqs)
      SELECT id, 1, '{}', '{}' FROM bench_message_sessions ON CONFLICT DO NOTHING`);
    await seedBranched(client);
    await client.query('VACUUM (ANALYZE) chat_messages');
    await client.query('VACUUM (ANALYZE) chat_sessions');
    await client.query('ALTER TABLE chat_messages SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)');
    await client.query('CHECKPOINT').catch(() => {});
    const { rows: sizes } = await client.query<{ table: string; toast: string; indexes: string }>(`
      SELECT pg_relation_size('chat_messages') AS table,
             pg_table_size('chat_messages') - pg_relation_size('chat_messages') AS toast,
             pg_indexes_size('chat_messages') AS indexes`);
    return {
      messages: total,
      sessions,
      ms: Math.round(performance.now() - started),
      tableBytes: Number(sizes[0]!.table),
      toastBytes: Number(sizes[0]!.toast),
      indexBytes: Number(sizes[0]!.indexes),
    };
  } finally {
    await client.end();
  }
}

/**
 * The messages of sessions ord `from`…`to`. For the two list sessions every random figure is a
 * hash of seq mod 100 instead, so their newest 50 messages are alike position by position.
 */
function insertMessages(from: number, to: number): string {
  const r = (salt: number) => `CASE WHEN t.ord <= 2 THEN (hashint4(g.seq % 100 + ${salt * 1000}) & 2147483647) / 2147483648.0 ELSE random() END`;
  return `
    WITH src AS MATERIALIZED (
      SELECT t.id AS session_id, t.created_at AS session_created_at, g.seq,
             ${r(1)} AS r_role, ${r(2)} AS r_size, ${r(3)} AS r_len, ${r(4)} AS r_offset, ${r(5)} AS r_model,
             (hashint4(hashtext(t.id::text)) & 2147483647) / 2147483648.0 AS r_session
      FROM bench_message_sessions t, generate_series(1, t.n) AS g(seq)
      WHERE t.ord BETWEEN ${from} AND ${to}
    ), shaped AS (
      SELECT src.*,
             CASE WHEN seq = 1 AND r_session < 0.2 THEN 'system'
                  WHEN seq % 2 = 1 THEN 'user'
                  WHEN seq % 10 = 0 THEN 'tool'
                  ELSE 'assistant' END AS role
      FROM src
    ), texts AS (
      SELECT shaped.*,
             left(c.text,
                    CASE role
                      WHEN 'user' THEN 20 + floor(r_len * 380)::int
                      WHEN 'system' THEN 200 + floor(r_len * 400)::int
                      WHEN 'tool' THEN 100 + floor(r_len * 1400)::int
                      ELSE CASE WHEN r_size < 0.25 THEN 900 + floor(r_len * 250)::int ELSE 80 + floor(r_len * 520)::int END
                    END) AS text
      FROM shaped JOIN bench_corpus c ON c.fragment = floor(r_offset * ${FRAGMENTS})::int
    )
    INSERT INTO chat_messages
      (session_id, seq, id, parent_id, run_id, starts_run, role, content, content_bytes, status, model, finish_reason, usage, metadata, created_at, updated_at)
    SELECT session_id, seq,
           md5(session_id::text || ':' || seq)::uuid,
           CASE WHEN seq > 1 THEN md5(session_id::text || ':' || (seq - 1))::uuid END,
           1, seq = 1,
           role,
           jsonb_build_array(jsonb_build_object('type', 'text', 'text', text)),
           -- compact JSON: [{"type":"text","text":"…"}]; the corpus has nothing JSON escapes
           octet_length(text) + 27,
           'completed',
           CASE WHEN role = 'assistant' THEN ${pick(models, 'r_model')} END,
           CASE WHEN role = 'assistant' THEN 'stop' END,
           CASE WHEN role = 'assistant'
                THEN jsonb_build_object('input_tokens', 200 + seq * 40, 'output_tokens', length(text) / 4) END,
           CASE WHEN role = 'user' AND r_model < 0.1 THEN '{"client":"web","locale":"en-US"}'::jsonb ELSE '{}'::jsonb END,
           date_trunc('milliseconds', session_created_at + seq * interval '${MESSAGE_GAP_S} seconds'),
           date_trunc('milliseconds', session_created_at + seq * interval '${MESSAGE_GAP_S} seconds')
    FROM texts`;
}

/**
 * One more session (tagged LIST_BRANCHED), of a user of the seeded ones: q0, a0, then 200 times
 * "regenerate the last answer, then one more question and answer" — each a branch off the one
 * before, so its current branch (401 messages) passes through 201 runs, the worst case for a
 * page: the newest 50 span 17 of them. 602 messages, with the list sessions' sizes and roles.
 * Its rows are what the service would have stored (run ids, starts_run, the runs' paths).
 */
async function seedBranched(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ id: string }>(`
    INSERT INTO chat_sessions (user_id, title, metadata, created_at, updated_at)
    SELECT user_id, 'Branched', '{"bench":"${LIST_BRANCHED}"}', now() - interval '10 days', now() - interval '10 days'
    FROM chat_sessions ORDER BY id LIMIT 1
    RETURNING id`);
  const session = rows[0]!.id;
  // seq 1, 2: q0, a0 (run 1). Branch b (1…200), base = 3b − 1: seq 3b the regenerated answer
  // (parent: q(b−1) at seq 3b − 2; starts run 3b), 3b + 1 the next question, 3b + 2 its answer.
  await client.query(
    `
    INSERT INTO chat_messages (session_id, seq, id, parent_id, run_id, starts_run, role, content, content_bytes, status, model, finish_reason, created_at, updated_at)
    SELECT $1::uuid, g.seq, md5($1::text || ':' || g.seq)::uuid,
           CASE WHEN g.seq = 1 THEN NULL WHEN g.seq % 3 = 0 THEN md5($1::text || ':' || (g.seq - 2))::uuid ELSE md5($1::text || ':' || (g.seq - 1))::uuid END,
           CASE WHEN g.seq <= 2 THEN 1 ELSE g.seq - (g.seq % 3) END,
           g.seq = 1 OR g.seq % 3 = 0,
           CASE WHEN g.seq % 3 = 1 THEN 'user' ELSE 'assistant' END,
           jsonb_build_array(jsonb_build_object('type', 'text', 'text', repeat('branch ', 20 + (g.seq % 7) * 10))),
           27 + 7 * (20 + (g.seq % 7) * 10), 'completed',
           CASE WHEN g.seq % 3 <> 1 THEN 'gpt-4o' END, CASE WHEN g.seq % 3 <> 1 THEN 'stop' END,
           now() - interval '10 days' + g.seq * interval '1 second', now() - interval '10 days' + g.seq * interval '1 second'
    FROM generate_series(1, 602) AS g(seq)`,
    [session],
  );
  // Run 3b's path: run 1 up to seq 1, then run 3k up to seq 3k + 1, for k = 1 … b − 1.
  await client.query(
    `
    INSERT INTO chat_message_runs (session_id, run_id, path_runs, path_seqs)
    SELECT $1::uuid, 1, '{}', '{}'
    UNION ALL
    SELECT $1::uuid, 3 * b,
           ARRAY(SELECT CASE WHEN k = 1 THEN 1 ELSE 3 * (k - 1) END FROM generate_series(1, b) AS k ORDER BY k),
           ARRAY(SELECT 3 * k - 2 FROM generate_series(1, b) AS k ORDER BY k)
    FROM generate_series(1, 200) AS b`,
    [session],
  );
  await client.query(
    `UPDATE chat_sessions SET message_count = 602, last_seq = 602, current_message_id = md5($1::text || ':' || 602)::uuid,
       current_run_id = 600, current_seq = 602, last_message_at = now() - interval '10 days' + 602 * interval '1 second'
     WHERE id = $1::uuid`,
    [session],
  );
}
