import { setTimeout as sleep } from 'node:timers/promises';
import {
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  type CommonQueryMethods,
  ConnectionError,
  type DatabasePool,
  type DatabaseTransactionConnection,
  StatementTimeoutError,
} from 'slonik';
import { isAnswer } from '../errors.ts';

/**
 * What a failed database call means for a retry:
 * - `connection`: no connection could be had, so nothing was sent (safe to retry);
 * - `transient`: a serialization failure or deadlock rolled the statement back, or a prepared
 *   statement the connection believed in was not there (`stalePreparedStatement`): safe to retry;
 * - `terminated`: the connection died after the statement was sent: it may or may not have been
 *   applied (retry only what is safe to apply twice);
 * - `timeout`: the statement ran out of time and was cancelled (the database is overloaded: do not
 *   add to it);
 * - `other`: a bug or a constraint; not retried.
 */
export type FailureKind = 'connection' | 'transient' | 'terminated' | 'timeout' | 'other';

const sqlStateOf = (error: unknown): string | undefined => {
  const candidate = error as { code?: unknown; cause?: { code?: unknown } };
  const code = candidate.code ?? candidate.cause?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * A named statement (src/db/prepared.ts) that failed before it ran: its connection's idea of what
 * is prepared was wrong — the statement is gone (26000: a pooler ran DISCARD ALL, or sent it to
 * another server connection), already there (42P05: a server connection another client prepared
 * it on), or planned for a table whose columns' types a migration changed since (0A000). Nothing
 * was executed (in a transaction, the transaction is rolled back), and Slonik destroys a
 * connection whose query failed, so the retry runs on a connection that prepares it afresh.
 */
function stalePreparedStatement(state: string | undefined, error: unknown): boolean {
  if (state === '26000' || state === '42P05') return true;
  return state === '0A000' && error instanceof Error && /cached plan must not change result type/.test(error.message);
}

/** A retried call that finally failed after an attempt whose outcome is unknown. */
export class OutcomeUnknownError extends Error {
  constructor(cause: unknown) {
    super('an earlier attempt may have been applied', { cause });
  }
}

export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof OutcomeUnknownError) return 'terminated';
  if (error instanceof ConnectionError) return 'connection';
  if (error instanceof StatementTimeoutError) return 'timeout';
  if (error instanceof BackendTerminatedError || error instanceof BackendTerminatedUnexpectedlyError) return 'terminated';
  const state = sqlStateOf(error);
  if (state === '40001' || state === '40P01' || stalePreparedStatement(state, error)) return 'transient';
  // Class 08 (connection exception), 57P0x (server shutting down, crashed, starting up).
  if (state?.startsWith('08') || /^57P0[1-3]$/.test(state ?? '')) return 'terminated';
  if (error instanceof Error && /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection terminated/i.test(error.message)) {
    return 'terminated';
  }
  return 'other';
}

/** Failures that mean "the database is not serving right now" rather than "we have a bug". */
export function isUnavailable(kind: FailureKind): boolean {
  return kind !== 'other';
}

export type RetryOptions = {
  limit: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onFailure?: (kind: FailureKind, willRetry: boolean) => void;
};

/**
 * Runs a database call, retrying connection failures and transient errors (and, for calls safe
 * to apply twice, connections that died mid-statement) up to `limit` times, with exponential
 * backoff and full jitter. Slonik's own retries are off: they retry at once, with no backoff,
 * and cannot tell a read from a write.
 */
export function createRetry({ limit, baseDelayMs = 25, maxDelayMs = 1_000, onFailure }: RetryOptions) {
  return async function retry<T>(work: () => Promise<T>, { safeToRepeat }: { safeToRepeat: boolean }): Promise<T> {
    let outcomeUnknown = false; // an attempt died mid-statement: a later failure must not hide that
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        const kind = classifyFailure(error);
        outcomeUnknown ||= kind === 'terminated';
        const retryable = kind === 'connection' || kind === 'transient' || (kind === 'terminated' && safeToRepeat);
        const willRetry = retryable && attempt < limit;
        onFailure?.(kind, willRetry);
        if (!willRetry) throw outcomeUnknown && kind !== 'terminated' ? new OutcomeUnknownError(error) : error;
        const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
        await sleep(Math.random() * ceiling);
      }
    }
  };
}

export type Retry = ReturnType<typeof createRetry>;

const queryMethods = [
  'any',
  'anyFirst',
  'exists',
  'many',
  'manyFirst',
  'maybeOne',
  'maybeOneFirst',
  'one',
  'oneFirst',
  'query',
  'transaction',
] as const;

/** An answer raised inside a transaction, carried out of the connection's handler as a value. */
class Answered {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/**
 * `pool.transaction(work)`, except that an answer of ours raised by `work` (a 404, 409, 412, 422:
 * src/errors.ts `isAnswer`) keeps the connection. Slonik destroys the connection of any call
 * whose handler throws, even after its ROLLBACK succeeded — each such answer would cost the
 * database a new backend and the statements it had prepared. So the transaction runs on an
 * explicit connection whose handler returns the answer rather than throwing it: Slonik has
 * rolled the transaction back already (or, had the ROLLBACK failed, thrown its error instead,
 * which is not an answer and destroys the connection as before), and a connection that died
 * meanwhile is destroyed by the driver on its error event whatever the handler returns.
 * Database errors (a constraint, a stale prepared statement, a lost connection) still destroy it.
 */
function transactionKeepingConnection(pool: DatabasePool) {
  return async <T>(work: (transaction: DatabaseTransactionConnection) => Promise<T>): Promise<T> => {
    const outcome = await pool.connect((connection) =>
      connection.transaction(work).catch((error: unknown) => {
        if (isAnswer(error)) return new Answered(error);
        throw error;
      }),
    );
    if (outcome instanceof Answered) throw outcome.error;
    return outcome;
  };
}

/**
 * The same query methods, each call retried. `safeToRepeat` says whether the statements run
 * through this view may be applied twice (reads, inserts keyed by a client-chosen id).
 */
export function retrying(pool: DatabasePool, retry: Retry, safeToRepeat: boolean): CommonQueryMethods {
  const wrapped: Record<string, unknown> = {};
  for (const method of queryMethods) {
    const call = (method === 'transaction' ? transactionKeepingConnection(pool) : pool[method].bind(pool)) as (...args: unknown[]) => Promise<unknown>;
    wrapped[method] = (...args: unknown[]) => retry(() => call(...args), { safeToRepeat });
  }
  return wrapped as unknown as CommonQueryMethods;
}
