import { type DatabasePool, sql, StatementTimeoutError } from 'slonik';
import { z } from 'zod';
import type { ContractRequest, Schemas } from '../contract/types.ts';
import { type Retry, retrying } from '../db/retry.ts';
import { AppError, validationFailed } from '../errors.ts';
import type { CursorCodec } from '../sessions/cursor.ts';
import { instant } from '../sessions/service.ts';
import { snippetOf, START, STOP } from './snippet.ts';

type SearchQuery = ContractRequest<'searchMessages'>['query'];
type Hit = Schemas['SearchHit'];

/**
 * How many matches are ranked together: the newest CANDIDATES matches of the search, then the
 * CANDIDATES before them, and so on. A rare word's matches are all in the first block (exactly
 * best first); a word in half of a user's messages costs the same as one in 200 of them, instead
 * of ranking every match (docs/performance.md, "Search"; openapi.yaml says it to clients).
 */
export const CANDIDATES = 200;

const tsquery = (q: string) => sql.fragment`websearch_to_tsquery('simple', ${q})`;

/** The text ts_headline reads: the indexed text, with the two markers it must not contain replaced. */
const HEADLINE_TEXT = sql.fragment`translate(chat_message_search_text(p.content), ${START + STOP}, ${'\uFFFD\uFFFD'})`;
const HEADLINE_OPTIONS = `StartSel=${START}, StopSel=${STOP}, MaxWords=35, MinWords=15, ShortWord=3, MaxFragments=0`;

const pageRow = z.object({
  tree: z.string(),
  n: z.number().int(),
  newest_at: z.string().nullable(),
  newest_session: z.string().nullable(),
  newest_seq: z.number().int().nullable(),
  oldest_at: z.string().nullable(),
  oldest_session: z.string().nullable(),
  oldest_seq: z.number().int().nullable(),
  session_id: z.string().nullable(),
  session_title: z.string().nullable(),
  message_id: z.string().nullable(),
  seq: z.number().int().nullable(),
  // The table's CHECK constraint keeps role within the contract's enum.
  role: (z.string() as z.ZodType<Hit['role']>).nullable(),
  created_at: z.string().nullable(),
  rank: z.string().nullable(),
  headline: z.string().nullable(),
});

/**
 * Where a block of candidates starts: below (or at) this message in (created_at, session_id, seq)
 * order — newest first, and within one append (one created_at) by seq.
 */
type Edge = { at: string; session: string; seq: number; inclusive: boolean };
/** The last hit a page gave, in the block's (rank, created_at, session_id, seq) order. */
type After = { rank: string; at: string; session: string; seq: number };
type Position = { edge: Edge | null; after: After | null };

export function createSearchService(pool: DatabasePool, retry: Retry, cursors: CursorCodec) {
  const reads = retrying(pool, retry, true);

  /**
   * One block's hits after `after`: the newest CANDIDATES matches below the edge, ranked, and
   * what the block holds (how many, its newest and oldest), also when no hit is left in it.
   */
  async function block(query: SearchQuery, owner: string | undefined, edge: Edge | null, after: After | null, need: number) {
    const q = tsquery(query.q);
    const after_ = query.created_after === undefined ? undefined : instant(query.created_after);
    const before = query.created_before === undefined ? undefined : instant(query.created_before);
    const user = owner ?? query.user_id;
    const conditions = [
      // A query with no word to look for (only operators, or only excluded words) is refused
      // before anything is read: a one-time filter, not a scan.
      sql.fragment`querytree(${q}) NOT IN ('', 'T')`,
      sql.fragment`m.search_vector @@ ${q}`,
      user !== undefined && sql.fragment`m.user_id = ${user}`,
      query.session_id !== undefined && sql.fragment`m.session_id = ${query.session_id}`,
      query.role !== undefined && sql.fragment`m.role = ANY(${sql.array(query.role, 'text')})`,
      after_ && sql.fragment`m.created_at > ${after_.floor}::timestamptz`,
      before && (before.exact ? sql.fragment`m.created_at < ${before.floor}::timestamptz` : sql.fragment`m.created_at <= ${before.floor}::timestamptz`),
      !query.include_deleted && sql.fragment`s.is_active`,
      edge &&
        (edge.inclusive
          ? sql.fragment`(m.created_at, m.session_id, m.seq) <= (${edge.at}::timestamptz, ${edge.session}::uuid, ${edge.seq}::int)`
          : sql.fragment`(m.created_at, m.session_id, m.seq) < (${edge.at}::timestamptz, ${edge.session}::uuid, ${edge.seq}::int)`),
    ].filter((condition) => condition !== false && condition !== undefined && condition !== null);
    const afterCondition = after
      ? sql.fragment`(rank, created_at, session_id, seq) < (${after.rank}::real, ${after.at}::timestamptz, ${after.session}::uuid, ${after.seq}::int)`
      : sql.fragment`TRUE`;

    // Planned per request (not a prepared statement): whether walking the user's newest messages
    // or looking the words up in the GIN is cheaper depends on how common they are.
    return reads.any(sql.type(pageRow)`
      WITH candidates AS (
        SELECT m.session_id, m.seq, m.id, m.role, m.created_at, m.content, m.search_vector
        FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
        WHERE ${sql.join(conditions, sql.fragment` AND `)}
        ORDER BY m.created_at DESC, m.session_id DESC, m.seq DESC
        LIMIT ${CANDIDATES}
      ), edges AS (
        SELECT count(*)::int AS n,
               (array_agg(created_at ORDER BY created_at DESC, session_id DESC, seq DESC))[1] AS newest_at,
               (array_agg(session_id ORDER BY created_at DESC, session_id DESC, seq DESC))[1] AS newest_session,
               (array_agg(seq ORDER BY created_at DESC, session_id DESC, seq DESC))[1] AS newest_seq,
               (array_agg(created_at ORDER BY created_at, session_id, seq))[1] AS oldest_at,
               (array_agg(session_id ORDER BY created_at, session_id, seq))[1] AS oldest_session,
               (array_agg(seq ORDER BY created_at, session_id, seq))[1] AS oldest_seq
        FROM candidates
      ), ranked AS (
        SELECT c.*, ts_rank(c.search_vector, ${q}, 1) AS rank FROM candidates c
      )
      SELECT querytree(${q}) AS tree, e.n, e.newest_at, e.newest_session, e.newest_seq, e.oldest_at, e.oldest_session, e.oldest_seq,
             p.session_id, s.title AS session_title, p.id AS message_id, p.seq, p.role, p.created_at,
             p.rank::text AS rank,
             ts_headline('simple', ${HEADLINE_TEXT}, ${q}, ${HEADLINE_OPTIONS}) AS headline
      FROM edges e
      LEFT JOIN LATERAL (
        SELECT * FROM ranked WHERE ${afterCondition} ORDER BY rank DESC, created_at DESC, session_id DESC, seq DESC LIMIT ${need}
      ) p ON TRUE
      LEFT JOIN chat_sessions s ON s.id = p.session_id
      ORDER BY p.rank DESC, p.created_at DESC, p.session_id DESC, p.seq DESC`);
  }

  return {
    /**
     * A page of hits. Blocks of CANDIDATES matches, newest block first, each ranked best first
     * (ties: newest first); a page that reaches the end of a block goes on into the next one. The
     * first page pins the first block's edge at its newest match, so messages appended while a
     * client pages do not shift the blocks under it. `scope` names the caller: a cursor is bound
     * to it and to the query.
     */
    async search(query: SearchQuery, owner: string | undefined, scope: string): Promise<Schemas['SearchResults']> {
      const limit = query.limit!;
      const binding = JSON.stringify([scope, 'searchMessages', bindingOf(query)]);
      let position: Position = query.cursor ? positionOf(cursors.decode(query.cursor, binding).value) : { edge: null, after: null };
      const items: Hit[] = [];
      let lastRank = '';
      let next: Position | null = null;
      // A page spans at most two blocks (limit ≤ 50 < CANDIDATES); a third look finds an empty one.
      for (let look = 0; look < 3; look++) {
        const need = limit + 1 - items.length;
        const rows = await bounded(query, owner, () => block(query, owner, position.edge, position.after, need));
        const summary = rows[0]!;
        if (summary.tree === '' || summary.tree === 'T') throw noWords();
        const edge: Edge | null =
          position.edge ??
          (summary.newest_at ? { at: summary.newest_at, session: summary.newest_session!, seq: summary.newest_seq!, inclusive: true } : null);
        let pushed = 0;
        for (const row of rows) {
          if (row.message_id === null) continue;
          if (items.length === limit) {
            // One more hit than the page holds: the next page resumes after the last one shown.
            const last = items.at(-1)!;
            next = { edge, after: pushed ? { rank: lastRank, at: last.created_at, session: last.session_id, seq: last.seq } : position.after };
            break;
          }
          items.push({
            session_id: row.session_id!,
            session_title: row.session_title,
            message_id: row.message_id,
            seq: row.seq!,
            role: row.role!,
            created_at: row.created_at!,
            snippet: snippetOf(row.headline ?? ''),
          });
          lastRank = row.rank!;
          pushed++;
        }
        if (next || summary.n < CANDIDATES) break;
        // The block is full: older matches may follow, in the next block.
        position = {
          edge: { at: summary.oldest_at!, session: summary.oldest_session!, seq: summary.oldest_seq!, inclusive: false },
          after: null,
        };
      }
      return { items, limit, next_cursor: next ? cursors.encode(binding, { value: JSON.stringify(next), id: '' }) : null };
    },
  };
}

export type SearchService = ReturnType<typeof createSearchService>;

/**
 * Across users (a service token without user_id) a common word's newest matches are a scan of
 * every user's messages, bounded by the statement timeout: like a session list across users,
 * one that runs out of time is a 422 telling how to narrow it, not a 503.
 */
async function bounded<T>(query: SearchQuery, owner: string | undefined, scan: () => Promise<T>): Promise<T> {
  try {
    return await scan();
  } catch (error) {
    if (!(error instanceof StatementTimeoutError) || owner !== undefined || query.user_id !== undefined) throw error;
    throw new AppError('query_too_broad', 'Searching across users ran out of time: give user_id, or narrow it with created_after/created_before');
  }
}

function noWords(): AppError {
  const message = 'q must contain at least one word to search for (not only quotes, operators or -excluded words)';
  return validationFailed([{ in: 'query', pointer: '/q', message }]);
}

/** Everything that selects hits (not how many or from where): a cursor is bound to it. */
function bindingOf(query: SearchQuery) {
  return {
    q: query.q,
    user_id: query.user_id ?? null,
    session_id: query.session_id?.toLowerCase() ?? null,
    role: query.role ? [...new Set(query.role)].sort() : null,
    created_after: query.created_after ?? null,
    created_before: query.created_before ?? null,
    include_deleted: query.include_deleted ?? false,
  };
}

function positionOf(value: string | number): Position {
  return JSON.parse(String(value)) as Position;
}
