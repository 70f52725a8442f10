import { createPool, createTypeParserPreset, SchemaValidationError, type DatabasePool, type Interceptor } from 'slonik';
import type { Config } from '../config.ts';
import { databaseTarget } from './connection.ts';
import { unnamedStatements } from './prepared.ts';
import type { ReachedDatabase, SessionTimeouts } from './wait.ts';

/**
 * `sql.type(schema)` only types a query's rows; this interceptor makes Slonik validate (and
 * transform) every row with that schema. Our schemas are synchronous zod objects.
 */
const parseRowsWithTheirSchema: Interceptor = {
  name: 'parse-rows-with-their-schema',
  transformRow: (context, query, row) => {
    const parser = context.resultParser;
    if (!parser) return row;
    const result = parser['~standard'].validate(row);
    if (result instanceof Promise) throw new TypeError('Row schemas must be synchronous');
    if (result.issues) throw new SchemaValidationError(query, row, result.issues);
    return result.value as typeof row;
  },
};

/**
 * timestamptz arrives as the contract's date-time: ISO 8601 in UTC with milliseconds. When the
 * database's TimeZone is UTC (the embedded one's is; most hosted ones' too), PostgreSQL's text
 * only needs rearranging — "2026-11-25 12:34:56.789+00" becomes "2026-11-25T12:34:56.789Z" —
 * rather than a round trip through Date (two per row, a third of a list page's row handling).
 * Any other zone goes through Date: right, only slower. (Not forced per connection with a
 * startup `options` parameter: connection poolers such as PgBouncer refuse it.)
 */
const utcText = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;
export function isoTimestamp(text: string): string {
  const utc = utcText.exec(text);
  if (utc) return `${utc[1]}T${utc[2]}.${(utc[3] ?? '000').padEnd(3, '0').slice(0, 3)}Z`;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : text; // ±infinity stay as they are
}

const typeParsers = [
  ...createTypeParserPreset().filter((parser) => parser.name !== 'timestamptz'),
  { name: 'timestamptz', parse: isoTimestamp },
];

/** Our connections name themselves, so they can be told apart in pg_stat_activity. */
export const APPLICATION_NAME = 'chat-sessions-api';

/** What our connections ask for when they open (a pooler may refuse: see src/db/wait.ts). */
export function sessionTimeouts(config: Config): SessionTimeouts {
  return { statement_timeout: config.DB_STATEMENT_TIMEOUT_MS, idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS };
}

// A transaction left open (a bug, a stuck client) must not hold its locks for long.
const IDLE_IN_TRANSACTION_MS = 60_000;

/**
 * The pool, connected the way `waitForDatabase` reached the database: its TLS options (never
 * Slonik's reading of the URL, which knows no verify-ca or verify-full and drops sslrootcert), and
 * the timeouts as startup parameters only where the server takes them. Behind a pooler in
 * transaction mode, statements are bounded by the role's own settings instead
 * (`ALTER ROLE … SET statement_timeout`: applied by PostgreSQL to every server connection the
 * pooler opens, at no cost per statement).
 */
export function createDatabasePool(database: string | ReachedDatabase, config: Config): Promise<DatabasePool> {
  const { target, startupTimeouts } =
    typeof database === 'string' ? { target: databaseTarget(database), startupTimeouts: true } : database;
  const url = new URL(target.url);
  if (!url.searchParams.has('application_name')) url.searchParams.set('application_name', APPLICATION_NAME);
  const timeouts = sessionTimeouts(config);
  return createPool(url.toString(), {
    ...(target.ssl && { ssl: target.ssl }),
    statementTimeout: startupTimeouts ? timeouts.statement_timeout : 'DISABLE_TIMEOUT',
    idleInTransactionSessionTimeout: startupTimeouts ? timeouts.idle_in_transaction_session_timeout : 'DISABLE_TIMEOUT',
    maxPoolSize: config.DB_POOL_SIZE,
    connectionTimeout: config.DB_CONNECTION_TIMEOUT_MS,
    idleTimeout: 30_000,
    // Retries are ours (src/db/retry.ts): Slonik's happen at once, with no backoff, and cannot
    // tell a read from a write.
    connectionRetryLimit: 0,
    queryRetryLimit: 0,
    transactionRetryLimit: 0,
    captureStackTrace: false,
    tracing: false,
    // Slonik sends DISCARD ALL after every query by default: a round trip per statement to undo
    // session state we never create (no SET, temporary tables or LISTEN; transactions always end).
    // It must stay off for prepared statements (src/db/prepared.ts): DISCARD ALL drops them while
    // node-postgres still believes the connection has them.
    resetConnection: async () => {},
    interceptors: config.DB_PREPARED_STATEMENTS === 'on' ? [parseRowsWithTheirSchema] : [parseRowsWithTheirSchema, unnamedStatements],
    typeParsers,
  });
}
