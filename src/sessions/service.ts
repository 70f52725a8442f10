import { uuidv7 } from '../ids.ts';
import { type CommonQueryMethods, type DatabasePool, sql, StatementTimeoutError } from 'slonik';
import { z } from 'zod';
import type { ContractRequest, Schemas } from '../contract/types.ts';
import { prepared } from '../db/prepared.ts';
import { type Retry, retrying } from '../db/retry.ts';
import { AppError, type FieldError, notFound, validationFailed } from '../errors.ts';
import type { CursorCodec, CursorPosition } from './cursor.ts';
import { etagOf, type Precondition, satisfies } from '../http/etag.ts';
import { isJsonObject, mergePatch } from '../rules.ts';

type Session = Schemas['Session'];
type ListQuery = ContractRequest<'listSessions'>['query'];
export type SessionWithEtag = { session: Session; etag: string; version: number };
export type SessionPage = Schemas['SessionList'];

const sessionRow = z
  .object({
    id: z.string(),
    user_id: z.string(),
    title: z.string().nullable(),
    // The table's CHECK constraint keeps status within the contract's enum.
    status: z.string() as z.ZodType<Session['status']>,
    is_active: z.boolean(),
    metadata: z.custom<Record<string, unknown>>(isJsonObject, 'metadata must be a JSON object'),
    message_count: z.number().int(),
    last_message_at: z.string().nullable(),
    current_message_id: z.string().nullable(),
    created_at: z.string(), // ISO 8601 already (src/db/pool.ts)
    updated_at: z.string(),
    version: z.number().int(),
  })
  .transform((row) => ({
    // Spelled out: a literal of known shape is several times cheaper than rest and spread.
    session: {
      id: row.id,
      user_id: row.user_id,
      title: row.title,
      status: row.status,
      is_active: row.is_active,
      metadata: row.metadata,
      message_count: row.message_count,
      last_message_at: row.last_message_at,
      current_message_id: row.current_message_id,
      created_at: row.created_at,
      updated_at: row.updated_at,
    },
    etag: etagOf(row.version),
    version: row.version,
  }));

const idRow = z.object({ id: z.string() });

const columns = sql.fragment`id, user_id, title, status, is_active, metadata, message_count, last_message_at, current_message_id, created_at, updated_at, version`;

// Strictly increasing even for two writes within one millisecond (the column keeps milliseconds).
export const touched = sql.fragment`updated_at = greatest(now(), updated_at + interval '1 millisecond'), version = version + 1`;

type MetadataCheck = (metadata: Record<string, unknown>) => FieldError[];

export function createSessionService(pool: DatabasePool, retry: Retry, cursors: CursorCodec, checkMetadata: MetadataCheck) {
  // Reads may be retried whatever happened; writes only when they surely did not reach the database.
  const reads = retrying(pool, retry, true);
  const writes = retrying(pool, retry, false);

  return {
    /**
     * The id is chosen here, so a create whose connection died mid-statement can be sent again:
     * the retry finds the row the first attempt may have inserted instead of inserting another.
     * `db` is a transaction when the create must commit with something else (idempotency keys).
     */
    async create(input: Schemas['SessionCreate'] & { user_id: string }, db: CommonQueryMethods = reads): Promise<SessionWithEtag> {
      const id = uuidv7();
      return db.one(prepared('create_session', sessionRow)`
        WITH inserted AS (
          INSERT INTO chat_sessions (id, user_id, title, status, metadata)
          VALUES (
            ${id},
            ${input.user_id},
            ${input.title ?? null},
            ${input.status ?? sql.fragment`DEFAULT`},
            ${input.metadata === undefined ? sql.fragment`DEFAULT` : sql.jsonb(input.metadata as never)}
          )
          ON CONFLICT (id) DO NOTHING
          RETURNING ${columns}
        )
        SELECT * FROM inserted
        UNION ALL
        SELECT ${columns} FROM chat_sessions WHERE id = ${id} AND NOT EXISTS (SELECT FROM inserted)`);
    },

    /** `owner`, when given, is the only user whose session may be found: others' are "missing". */
    async get(id: string, owner?: string, db: CommonQueryMethods = reads): Promise<SessionWithEtag> {
      const found = await db.maybeOne(prepared('get_session', sessionRow)`
        SELECT ${columns} FROM chat_sessions WHERE id = ${id} AND ${ownedBy(owner)}`);
      return found ?? missing(id);
    },

    async update(id: string, patch: Schemas['SessionPatch'], precondition?: Precondition, owner?: string): Promise<SessionWithEtag> {
      const assignments = [
        patch.title !== undefined && sql.fragment`title = ${patch.title}`,
        patch.status !== undefined && sql.fragment`status = ${patch.status}`,
        patch.is_active !== undefined && sql.fragment`is_active = ${patch.is_active}`,
      ].filter((fragment) => fragment !== false);

      if (patch.metadata === undefined && patch.current_message_id === undefined) {
        // The precondition is part of the UPDATE's WHERE: checked and written atomically.
        const updated = await updateRow(writes, id, owner, assignments, precondition);
        return updated ?? explainMiss(reads, id, owner);
      }

      // Merging metadata reads the current value, and a switch of branches reads the message it
      // names: lock the row first, so concurrent merges all land and no delete (which locks the
      // row too) removes that message before the switch commits.
      return writes.transaction(async (transaction) => {
        const current = await transaction.maybeOne(sql.type(sessionRow)`
          SELECT ${columns} FROM chat_sessions WHERE id = ${id} AND ${ownedBy(owner)} FOR UPDATE`);
        if (!current) return missing(id);
        if (!satisfies(precondition, current.version)) throw preconditionFailed(current.etag);
        const more = [];
        if (patch.metadata !== undefined) {
          // `metadata: null` resets it to the empty object it defaults to.
          const metadata = (patch.metadata === null ? {} : mergePatch(current.session.metadata, patch.metadata)) as Record<
            string,
            unknown
          >;
          const problems = checkMetadata(metadata);
          if (problems.length) throw validationFailed(problems);
          more.push(sql.fragment`metadata = ${sql.jsonb(metadata as never)}`);
        }
        if (patch.current_message_id !== undefined) {
          const leaf = await transaction.maybeOne(sql.type(z.object({ run_id: z.number(), seq: z.number() }))`
            SELECT run_id, seq FROM chat_messages WHERE session_id = ${id} AND id = ${patch.current_message_id}`);
          if (!leaf) {
            const message = `current_message_id names no message of this session (${patch.current_message_id})`;
            throw validationFailed([{ in: 'body', pointer: '/current_message_id', message }]);
          }
          more.push(
            sql.fragment`current_message_id = ${patch.current_message_id}, current_run_id = ${leaf.run_id}, current_seq = ${leaf.seq}`,
          );
        }
        return (await updateRow(transaction, id, owner, [...assignments, ...more])) ?? missing(id);
      });
    },

    /** Soft delete is idempotent: deleting a deleted session changes nothing and succeeds. */
    async softDelete(id: string, precondition?: Precondition, owner?: string): Promise<void> {
      const deleted = await writes.maybeOne(prepared('soft_delete_session', idRow)`
        UPDATE chat_sessions SET is_active = false, ${touched}
        WHERE id = ${id} AND ${ownedBy(owner)} AND is_active AND ${versionMatches(precondition)}
        RETURNING id`);
      if (deleted) return;
      const current = await currentVersion(reads, id, owner);
      if (!current) return missing(id);
      if (!satisfies(precondition, current.version)) throw preconditionFailed(etagOf(current.version));
      // Already soft-deleted (by us, earlier, or by a concurrent request): nothing to do.
    },

    async hardDelete(id: string, precondition?: Precondition, owner?: string): Promise<void> {
      const deleted = await writes.maybeOne(sql.type(z.object({ id: z.string() }))`
        DELETE FROM chat_sessions WHERE id = ${id} AND ${ownedBy(owner)} AND ${versionMatches(precondition)} RETURNING id`);
      if (!deleted) await explainMiss(reads, id, owner);
    },

    /** `scope` names the caller: a cursor is bound to it, as to the sort and filters. */
    async list(query: ListQuery, scope = ''): Promise<SessionPage> {
      const sort = sorts[query.sort!]; // the contract supplies the default
      const limit = query.limit!;
      const filters = filtersOf(query);
      const binding = JSON.stringify([scope, query.sort, bindingOf(query)]);
      const after = query.cursor ? cursors.decode(query.cursor, binding) : undefined;
      const conditions = after ? [...filters, sort.after(after)] : filters;

      // A search term, a metadata filter or a time range makes the best plan depend on the value
      // (a generic prepared plan fits one term and not the next): those are planned per request.
      const valueSensitive = query.q !== undefined || query.metadata !== undefined || query.created_after !== undefined || query.created_before !== undefined;
      const rows = await boundedScan(query, () =>
        reads.any((valueSensitive ? sql.type(sessionRow) : prepared('list_sessions', sessionRow))`
          SELECT ${columns} FROM chat_sessions
          WHERE ${and(conditions)}
          ORDER BY ${sort.orderBy}
          LIMIT ${limit + 1} OFFSET ${query.offset ?? 0}`),
      );

      const items = rows.slice(0, limit).map((row) => row.session);
      const last = items.at(-1);
      const page: SessionPage = {
        items,
        limit,
        next_cursor: rows.length > limit && last ? cursors.encode(binding, sort.positionOf(last)) : null,
      };
      if (query.offset !== undefined) page.offset = query.offset;
      if (query.include_total) page.total = await boundedScan(query, () => countMatching(reads, filters));
      return page;
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;

export function missing(id: string): never {
  throw notFound(`No session with id ${id}`);
}

async function updateRow(
  db: CommonQueryMethods,
  id: string,
  owner: string | undefined,
  assignments: ReturnType<typeof sql.fragment>[],
  precondition?: Precondition,
) {
  return db.maybeOne(prepared('update_session', sessionRow)`
    UPDATE chat_sessions SET ${sql.join([...assignments, touched], sql.fragment`, `)}
    WHERE id = ${id} AND ${ownedBy(owner)} AND ${versionMatches(precondition)}
    RETURNING ${columns}`);
}

/** The WHERE condition of an If-Match: `version` may be any expression of the row's version. */
export function versionMatches(precondition: Precondition | undefined, version = sql.fragment`version`) {
  if (!precondition || precondition.any) return sql.fragment`TRUE`;
  return sql.fragment`${version} = ANY(${sql.array(precondition.versions, 'int4')})`;
}

async function currentVersion(db: CommonQueryMethods, id: string, owner: string | undefined) {
  return db.maybeOne(sql.type(z.object({ version: z.number() }))`
    SELECT version FROM chat_sessions WHERE id = ${id} AND ${ownedBy(owner)}`);
}

/** `userId` names the owner column (qualified where a query joins sessions to messages). */
export function ownedBy(owner: string | undefined, userId = sql.fragment`user_id`) {
  return owner === undefined ? sql.fragment`TRUE` : sql.fragment`${userId} = ${owner}`;
}

/** A write touched nothing: the session is gone (404), or its ETag failed the precondition (412). */
async function explainMiss(db: CommonQueryMethods, id: string, owner: string | undefined): Promise<never> {
  const current = await currentVersion(db, id, owner);
  if (!current) return missing(id);
  throw preconditionFailed(etagOf(current.version));
}

export function preconditionFailed(currentEtag: string, what = 'session'): AppError {
  return new AppError('precondition_failed', `The ${what} has changed: its ETag is now ${currentEtag}`, {
    headers: { ETag: currentEtag },
  });
}

/**
 * Across users only the created_at order has an index of its own (sql/1764064800004): `q`,
 * `metadata`, `status`, the other sorts and `include_total` are scans of every user's sessions,
 * bounded by the statement timeout. One that runs out of time says the query is too broad for
 * the table, not that the database is down: a 422 telling how to narrow it, not a 503 inviting
 * the same request again. Within one user the pages are index-served, so a timeout there stays
 * a 503 (an overloaded database).
 */
async function boundedScan<T>(query: ListQuery, scan: () => Promise<T>): Promise<T> {
  try {
    return await scan();
  } catch (error) {
    if (!(error instanceof StatementTimeoutError) || query.user_id !== undefined) throw error;
    throw new AppError(
      'query_too_broad',
      'Listing across users ran out of time: give user_id, or narrow it with created_after/created_before and sort=created_at or -created_at',
    );
  }
}

async function countMatching(db: CommonQueryMethods, filters: ReturnType<typeof sql.fragment>[]): Promise<number> {
  return db.oneFirst(sql.type(z.object({ total: z.number() }))`
    SELECT count(*)::int AS total FROM chat_sessions WHERE ${and(filters)}`);
}

function and(conditions: ReturnType<typeof sql.fragment>[]) {
  return conditions.length ? sql.join(conditions, sql.fragment` AND `) : sql.fragment`TRUE`;
}

/** Everything that selects rows (not how many or from where): a cursor is bound to it. */
function bindingOf(query: ListQuery) {
  return {
    user_id: query.user_id ?? null,
    status: query.status ? [...new Set(query.status)].sort() : null,
    include_deleted: query.include_deleted ?? false,
    q: query.q ?? null,
    created_after: query.created_after ?? null,
    created_before: query.created_before ?? null,
    metadata: query.metadata ? Object.entries(query.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : null,
  };
}

function filtersOf(query: ListQuery) {
  const after = query.created_after === undefined ? undefined : instant(query.created_after);
  const before = query.created_before === undefined ? undefined : instant(query.created_before);
  return [
    query.user_id !== undefined && sql.fragment`user_id = ${query.user_id}`,
    query.status !== undefined && sql.fragment`status = ANY(${sql.array(query.status, 'text')})`,
    !query.include_deleted && sql.fragment`is_active`,
    query.q !== undefined && sql.fragment`title ILIKE ${`%${escapeLike(query.q)}%`} ESCAPE '\\'`,
    after && sql.fragment`created_at > ${after.floor}::timestamptz`,
    // Below the bound's microsecond, a millisecond created_at is below the bound itself.
    before && (before.exact ? sql.fragment`created_at < ${before.floor}::timestamptz` : sql.fragment`created_at <= ${before.floor}::timestamptz`),
    query.metadata !== undefined &&
      Object.keys(query.metadata).length > 0 &&
      sql.fragment`metadata @> ${sql.jsonb(query.metadata)}`,
  ].filter((fragment) => fragment !== false && fragment !== undefined);
}

/**
 * An RFC 3339 instant as PostgreSQL reads it, floored to the microsecond (PostgreSQL would round
 * extra digits, possibly up): `exact` says whether nothing was cut. Leap seconds are PostgreSQL's
 * to read (the next minute's first); it has no year 0, which means "since forever" here.
 */
export function instant(value: string): { floor: string; exact: boolean } {
  if (value.startsWith('0000')) return { floor: '-infinity', exact: true };
  const [, head, fraction = '', zone] = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(value) ?? [];
  if (head === undefined || fraction.length <= 6) return { floor: value, exact: true };
  return { floor: `${head}.${fraction.slice(0, 6)}${zone}`, exact: /^0*$/.test(fraction.slice(6)) };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

type Sort = {
  orderBy: ReturnType<typeof sql.fragment>;
  after: (position: CursorPosition) => ReturnType<typeof sql.fragment>;
  positionOf: (session: Session) => CursorPosition;
};

/** Each sort is a (key, id) keyset, served per user by an index of the same shape (see sql/). */
function keyset(key: 'created_at' | 'updated_at' | 'title', descending: boolean): Sort {
  const expression = key === 'title' ? sql.fragment`coalesce(title, '')` : sql.identifier([key]);
  const direction = descending ? sql.fragment`DESC` : sql.fragment`ASC`;
  const beyond = descending ? sql.fragment`<` : sql.fragment`>`;
  const toSql = (value: string | number) =>
    key === 'title' ? sql.fragment`${String(value)}::text` : sql.fragment`${new Date(Number(value)).toISOString()}::timestamptz`;
  return {
    orderBy: sql.fragment`${expression} ${direction}, id ${direction}`,
    after: ({ value, id }) => sql.fragment`(${expression}, id) ${beyond} (${toSql(value)}, ${id}::uuid)`,
    positionOf: (session) => ({
      value: key === 'title' ? (session.title ?? '') : Date.parse(session[key]),
      id: session.id,
    }),
  };
}

const sorts: Record<NonNullable<ListQuery['sort']>, Sort> = {
  created_at: keyset('created_at', false),
  '-created_at': keyset('created_at', true),
  updated_at: keyset('updated_at', false),
  '-updated_at': keyset('updated_at', true),
  title: keyset('title', false),
  '-title': keyset('title', true),
};
