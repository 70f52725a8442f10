/**
 * The original design's table, for the second floor (bench/floor.ts with FLOOR_SCHEMA=original):
 * the seed's eight columns with only the two indexes it named, `idx_chat_sessions_user_id`
 * (user_id) and `idx_chat_sessions_status` (status) — no version, no message counters, none of
 * our eight other indexes. Made from a copy of the seeded benchmark database, so it holds the
 * very same sessions (same ids, users, titles, metadata, timestamps) and the same messages:
 * chat_messages (and chat_message_runs) are ours, unchanged (the original design had no messages),
 * their foreign keys moved to the new table. What the two floors cost differs by the sessions table alone.
 */
import { withClient } from './postgres.ts';

export const ORIGINAL_TABLE = `
  CREATE TABLE chat_sessions (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    text        NOT NULL,
    title      text,
    status     text        NOT NULL DEFAULT 'active',
    is_active  boolean     NOT NULL DEFAULT true,
    metadata   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`;

/** Rebuilds chat_sessions of the database at `url` (a copy of the seeded one) as the original table. */
export async function toOriginalTable(url: string): Promise<{ tableBytes: number; indexBytes: number; indexes: string[] }> {
  return withClient(url, async (client) => {
    await client.query(`SET maintenance_work_mem = '256MB'`);
    await client.query('BEGIN');
    await client.query('ALTER TABLE chat_sessions RENAME TO chat_sessions_ours');
    await client.query('ALTER TABLE chat_sessions_ours RENAME CONSTRAINT chat_sessions_pkey TO chat_sessions_ours_pkey');
    await client.query(ORIGINAL_TABLE);
    await client.query(`
      INSERT INTO chat_sessions (id, user_id, title, status, is_active, metadata, created_at, updated_at)
      SELECT id, user_id, title, status, is_active, metadata, created_at, updated_at FROM chat_sessions_ours ORDER BY ctid`);
    await client.query('ALTER TABLE chat_messages DROP CONSTRAINT chat_messages_session_id_fkey');
    await client.query('ALTER TABLE chat_message_runs DROP CONSTRAINT chat_message_runs_session_id_fkey');
    await client.query('DROP TABLE chat_sessions_ours');
    await client.query('ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_session_id_fkey FOREIGN KEY (session_id) REFERENCES chat_sessions (id) ON DELETE CASCADE');
    await client.query('ALTER TABLE chat_message_runs ADD CONSTRAINT chat_message_runs_session_id_fkey FOREIGN KEY (session_id) REFERENCES chat_sessions (id) ON DELETE CASCADE');
    await client.query('CREATE INDEX idx_chat_sessions_user_id ON chat_sessions (user_id)');
    await client.query('CREATE INDEX idx_chat_sessions_status ON chat_sessions (status)');
    await client.query('COMMIT');
    await client.query('VACUUM (ANALYZE) chat_sessions');
    await client.query('VACUUM (ANALYZE) chat_messages');
    // As for ours (bench/lib/seed.ts): the harness vacuums between runs, outside the measured windows.
    await client.query('ALTER TABLE chat_sessions SET (autovacuum_enabled = false)');
    await client.query('CHECKPOINT').catch(() => {});
    const { rows } = await client.query<{ table: string; indexes: string }>(
      `SELECT pg_table_size('chat_sessions') AS table, pg_indexes_size('chat_sessions') AS indexes`,
    );
    const { rows: names } = await client.query<{ name: string }>(`SELECT indexname AS name FROM pg_indexes WHERE tablename = 'chat_sessions' ORDER BY 1`);
    return { tableBytes: Number(rows[0]!.table), indexBytes: Number(rows[0]!.indexes), indexes: names.map((r) => r.name) };
  });
}
