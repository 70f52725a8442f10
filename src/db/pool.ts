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

export function createDatabasePool(databaseUrl: string, config: Config): Promise<DatabasePool> {
  return createPool(databaseUrl, {
    maxPoolSize: config.DB_POOL_SIZE,
    connectionTimeout: config.DB_CONNECTION_TIMEOUT_MS,
    statementTimeout: config.DB_STATEMENT_TIMEOUT_MS,
    idleTimeout: 30_000,
    // Slonik retries connection failures and SQLSTATE class 40 (deadlock, serialization).
    connectionRetryLimit: config.DB_RETRY_LIMIT,
    queryRetryLimit: config.DB_RETRY_LIMIT,
    transactionRetryLimit: config.DB_RETRY_LIMIT,
    captureStackTrace: false,
    interceptors: [parseRowsWithTheirSchema],
  });
}
