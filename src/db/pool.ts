import { createPool, SchemaValidationError, type DatabasePool, type Interceptor } from 'slonik';
import type { Config } from '../config.ts';

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

/** Our connections name themselves, so they can be told apart in pg_stat_activity. */
export const APPLICATION_NAME = 'chat-sessions-api';

export function createDatabasePool(databaseUrl: string, config: Config): Promise<DatabasePool> {
  const url = new URL(databaseUrl);
  if (!url.searchParams.has('application_name')) url.searchParams.set('application_name', APPLICATION_NAME);
  return createPool(url.toString(), {
    maxPoolSize: config.DB_POOL_SIZE,
    connectionTimeout: config.DB_CONNECTION_TIMEOUT_MS,
    statementTimeout: config.DB_STATEMENT_TIMEOUT_MS,
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
    resetConnection: async () => {},
    interceptors: [parseRowsWithTheirSchema],
  });
}
