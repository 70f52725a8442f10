/**
 * What PostgreSQL writes per streamed delta (the service's /append UPDATE) and per 1 KB append
 * (its append statement), measured with no load running: WAL bytes (pg_current_wal_lsn before and
 * after N statements, each its own transaction, commit records included), the bytes of full-page
 * images and WAL by resource manager (pg_walinspect, when it can be created), heap and TOAST growth, and how
 * many updates were HOT (pg_stat_user_tables). Deltas are measured into messages that already
 * hold ~1 KB, ~10 KB and ~100 KB of text: past ~2 KB the content goes to TOAST, and jsonb has no
 * partial update, so each delta writes the whole (compressed) content again.
 */
import pg from 'pg';
import { appendStatement, appendTextStatement, type Statement } from './message-sql.ts';

export type Rewrite = {
  what: string;
  /** Bytes of the message's content as compact JSON when the series started. */
  content_bytes: number;
  statements: number;
  wal_bytes_per_statement: number;
  wal_records_per_statement: number | null;
  /** Of those WAL bytes, full-page images (the first change of a page after a checkpoint). */
  fpi_bytes_per_statement: number | null;
  /** WAL bytes per statement by resource manager (Heap, Heap2, Btree, Transaction, …), when pg_walinspect is there. */
  wal_by_rmgr: Record<string, number> | null;
  heap_bytes_per_statement: number;
  toast_bytes_per_statement: number;
  /** Of the rows a statement updated in chat_messages (deltas) or chat_sessions (appends): how many were HOT. */
  updates_per_statement: number;
  hot_share: number | null;
  /** Compressed, stored size of the content (pg_column_size) and whether it lives in TOAST. */
  stored_bytes: number;
  toasted: boolean;
};

const STATEMENTS = 50;
const DELTA = 'and then the stream goes on with a few more words ';

const words = 'the a of to and in is for that with on as it be this you can query index session message request latency budget customer report deploy rollback function'.split(' ');
function prose(bytes: number): string {
  let text = '';
  while (text.length < bytes) text += `${words[Math.floor(Math.random() * words.length)]} `;
  return text.slice(0, bytes);
}

type Snapshot = { lsn: string; heap: number; toast: number; upd: number; hot: number };

async function snapshot(client: pg.Client, table: string): Promise<Snapshot> {
  // A backend's table counters reach pg_stat_user_tables when it flushes them: make it do so now.
  await client.query('SELECT pg_stat_force_next_flush()');
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ lsn: string; heap: string; toast: string; upd: string; hot: string }>(
    `SELECT pg_current_wal_lsn() AS lsn, pg_relation_size('chat_messages') AS heap,
            pg_total_relation_size(c.reltoastrelid) AS toast,
            t.n_tup_upd AS upd, t.n_tup_hot_upd AS hot
     FROM pg_class c, pg_stat_user_tables t WHERE c.oid = 'chat_messages'::regclass AND t.relid = $1::regclass`,
    [table],
  );
  const row = rows[0]!;
  return { lsn: row.lsn, heap: Number(row.heap), toast: Number(row.toast), upd: Number(row.upd), hot: Number(row.hot) };
}

async function walStats(client: pg.Client, from: string, to: string): Promise<{ records: number; fpiBytes: number; byRmgr: Record<string, number> } | null> {
  try {
    const { rows } = await client.query<{ rmgr: string; count: string; fpi_size: string; combined_size: string }>(
      `SELECT "resource_manager/record_type" AS rmgr, count, fpi_size, combined_size FROM pg_get_wal_stats($1, $2) WHERE count > 0`,
      [from, to],
    );
    const byRmgr: Record<string, number> = {};
    for (const row of rows) byRmgr[row.rmgr] = Math.round(Number(row.combined_size) / STATEMENTS);
    return {
      records: rows.reduce((sum, row) => sum + Number(row.count), 0),
      fpiBytes: rows.reduce((sum, row) => sum + Number(row.fpi_size), 0),
      byRmgr,
    };
  } catch {
    return null;
  }
}

/** Runs `next()`'s statement STATEMENTS times, each in its own transaction, after a checkpoint and one unmeasured run. */
async function series(client: pg.Client, what: string, table: string, next: () => Statement, message?: { session: string; id: string }): Promise<Rewrite> {
  // After a checkpoint the first change of each page writes a full image of it: take those
  // before measuring, so the figures are the steady state (the full-page images left are counted).
  await client.query('CHECKPOINT').catch(() => {});
  const warm = next();
  await client.query(warm.text, warm.values);
  const stored = async () =>
    message
      ? (
          await client.query<{ bytes: number; stored: number; toasted: boolean }>(
            // pg_column_toast_chunk_id (PostgreSQL 17+): null unless the value is stored out of line.
            `SELECT content_bytes AS bytes, pg_column_size(content) AS stored, pg_column_toast_chunk_id(content) IS NOT NULL AS toasted
             FROM chat_messages WHERE session_id = $1 AND id = $2`,
            [message.session, message.id],
          )
        ).rows[0]!
      : { bytes: 0, stored: 0, toasted: false };
  const { bytes, stored: storedBytes, toasted } = await stored();
  const before = await snapshot(client, table);
  for (let i = 0; i < STATEMENTS; i++) {
    const { text, values } = next();
    const { rowCount } = await client.query(text, values);
    if (!rowCount) throw new Error(`${what}: statement ${i + 1} changed nothing`);
  }
  const after = await snapshot(client, table);
  const { rows } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1, $2) AS bytes', [after.lsn, before.lsn]);
  const wal = await walStats(client, before.lsn, after.lsn);
  const upd = after.upd - before.upd;
  const per = (value: number) => Math.round((value / STATEMENTS) * 10) / 10;
  return {
    what,
    content_bytes: bytes,
    statements: STATEMENTS,
    wal_bytes_per_statement: Math.round(Number(rows[0]!.bytes) / STATEMENTS),
    wal_records_per_statement: wal ? per(wal.records) : null,
    fpi_bytes_per_statement: wal ? Math.round(wal.fpiBytes / STATEMENTS) : null,
    wal_by_rmgr: wal?.byRmgr ?? null,
    heap_bytes_per_statement: Math.round((after.heap - before.heap) / STATEMENTS),
    toast_bytes_per_statement: Math.round((after.toast - before.toast) / STATEMENTS),
    updates_per_statement: per(upd),
    hot_share: upd ? Math.round(((after.hot - before.hot) / upd) * 100) / 100 : null,
    stored_bytes: storedBytes,
    toasted,
  };
}

/** The figures for the README: a 1 KB append, then deltas into messages of ~1, ~10 and ~100 KB. */
export async function measureRewrites(url: string, sessions: string[]): Promise<Rewrite[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_walinspect').catch(() => {});
    const [appendTo, streamIn] = [sessions.at(-1)!, sessions.at(-2)!];
    const kilobyte = { role: 'user', content: [{ type: 'text', text: prose(990) }] };
    const results = [await series(client, 'append one 1 KB message', 'chat_sessions', () => appendStatement(appendTo, [kilobyte]))];
    for (const size of [1_000, 10_000, 100_000]) {
      const create = appendStatement(streamIn, [{ role: 'assistant', content: [{ type: 'text', text: prose(size) }], status: 'in_progress', model: 'gpt-4o' }]);
      const id = (await client.query<{ id: string }>(create.text, create.values)).rows[0]!.id;
      results.push(
        await series(client, `delta of ${DELTA.length} B into a message of ~${size / 1000} KB`, 'chat_messages', () => appendTextStatement(streamIn, id, DELTA), {
          session: streamIn,
          id,
        }),
      );
    }
    return results;
  } finally {
    await client.end();
  }
}
