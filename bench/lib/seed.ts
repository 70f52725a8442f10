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
