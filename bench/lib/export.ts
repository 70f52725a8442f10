/**
 * Export memory, measured from the outside: sessions of N messages seeded in SQL, exported over
 * HTTP from a service in its own process, its peak RSS (VmHWM) read from /proc after each export
 * (reset before it). Shared by tests/sessions-export-memory.test.ts and bench/export.ts.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { peakRssBytes, resetPeakRss } from './procfs.ts';

/** A session of `count` linear messages (~200 bytes of text each), its counters as appends leave them. */
export async function seedSession(databaseUrl: string, count: number): Promise<string> {
  const id = randomUUID();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO chat_sessions (id, user_id, title) VALUES ($1, 'export_memory', 'Export ' || $2::text)`, [id, count]);
    // Ids derived from (session, seq), so each message can name the one before it as its parent.
    await client.query(
      `INSERT INTO chat_messages (session_id, seq, id, parent_id, role, content, content_bytes, status)
       SELECT $1::uuid, g, md5($1::text || g)::uuid, CASE WHEN g = 1 THEN NULL ELSE md5($1::text || (g - 1))::uuid END,
              CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END, c.content, octet_length(c.content::text), 'completed'
       FROM generate_series(1, $2::int) AS g,
            LATERAL (SELECT jsonb_build_array(jsonb_build_object('type', 'text', 'text', 'message ' || g || ' ' || repeat('lorem ipsum ', 16))) AS content) c`,
      [id, count],
    );
    await client.query(
      `UPDATE chat_sessions SET message_count = $2::int, last_seq = $2::int, last_message_at = now(), current_message_id = md5($1::text || $2::int)::uuid WHERE id = $1::uuid`,
      [id, count],
    );
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return id;
}

export type ExportRun = { messages: number; bytes: number; seconds: number; peakRssBytes: number };

/** Exports a session (JSON Lines) and reads it to the end; the service's peak RSS during it. */
export async function measureExport(origin: string, pid: number, sessionId: string, messages: number): Promise<ExportRun> {
  resetPeakRss(pid);
  const started = performance.now();
  const response = await fetch(`${origin}/api/v1/sessions/${sessionId}/export`);
  if (response.status !== 200) throw new Error(`export answered ${response.status}: ${await response.text()}`);
  let bytes = 0;
  let lines = 0;
  for await (const chunk of response.body!) {
    bytes += chunk.length;
    for (const byte of chunk) if (byte === 0x0a) lines++;
  }
  if (lines !== messages + 1) throw new Error(`the export had ${lines} lines, not ${messages + 1}`);
  return { messages, bytes, seconds: (performance.now() - started) / 1000, peakRssBytes: peakRssBytes(pid) };
}
