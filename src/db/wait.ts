import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { connectClient, type DatabaseTarget } from './connection.ts';

/** Timeouts a connection asks for when it opens (startup parameters), in milliseconds. */
export type SessionTimeouts = { statement_timeout: number; idle_in_transaction_session_timeout: number };

/** How the database was reached, which the pool then uses as it is. */
export type ReachedDatabase = {
  /** For `prefer`/`allow`: with TLS or without, whichever the server took. */
  target: DatabaseTarget;
  /**
   * Whether the timeouts can be sent as startup parameters. A pooler in transaction mode
   * (PgBouncer) refuses them, or drops them when told to ignore them.
   */
  startupTimeouts: boolean;
  /** The statement_timeout our connections run with, in ms (0: unbounded). */
  statementTimeoutMs: number;
};

/**
 * Waits for the database to accept connections, with exponential backoff and jitter, for at most
 * `timeoutMs`: a service started before its database (or during a failover) comes up on its own.
 * Failures that waiting cannot fix (a certificate that does not verify, a rejected password or
 * pg_hba entry, a missing database) fail at once, with the reason.
 */
export async function waitForDatabase(target: DatabaseTarget, options: WaitOptions): Promise<ReachedDatabase> {
  const { client, ...reached } = await connectWhenReady(target, options);
  await client.end().catch(() => {});
  return reached;
}

type WaitOptions = { timeoutMs: number; timeouts?: SessionTimeouts; onRetry?: (error: unknown, delayMs: number) => void };

/**
 * As `waitForDatabase`, keeping the connection it reached the database with (the caller ends
 * it): start-up checks the migrations and reads the cursor secret over it rather than opening a
 * connection for each (each one a TCP and TLS handshake, a backend fork and SCRAM's 4,096 hashes).
 */
export async function connectWhenReady(
  target: DatabaseTarget,
  { timeoutMs, timeouts, onRetry }: WaitOptions,
): Promise<ReachedDatabase & { client: pg.Client }> {
  const deadline = Date.now() + timeoutMs;
  let startupTimeouts = timeouts !== undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      return await probe(target, startupTimeouts ? timeouts : undefined);
    } catch (error) {
      if (startupTimeouts && isUnsupportedStartupParameter(error)) {
        startupTimeouts = false; // a pooler: ask again at once, without them
        continue;
      }
      const permanent = permanentFailure(error);
      if (permanent) throw new Error(`${permanent}: ${(error as Error).message}`, { cause: error });
      const delay = Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (Date.now() + delay > deadline) {
        throw new Error(`The database did not answer within ${timeoutMs} ms (DB_STARTUP_TIMEOUT_MS): ${(error as Error).message}`, {
          cause: error,
        });
      }
      onRetry?.(error, delay);
      await sleep(delay);
    }
  }
}

async function probe(target: DatabaseTarget, timeouts: SessionTimeouts | undefined): Promise<ReachedDatabase & { client: pg.Client }> {
  const connected = await connectClient(target, { connectionTimeoutMillis: 2_000, ...timeouts });
  try {
    const { rows } = await connected.client.query<{ ms: number }>(
      "SELECT setting::int AS ms FROM pg_settings WHERE name = 'statement_timeout'",
    );
    const statementTimeoutMs = rows[0]!.ms;
    // A pooler told to ignore startup parameters accepts them and drops them.
    const startupTimeouts = timeouts !== undefined && statementTimeoutMs === timeouts.statement_timeout;
    return { target: connected.target, startupTimeouts, statementTimeoutMs, client: connected.client };
  } catch (error) {
    await connected.client.end().catch(() => {});
    throw error;
  }
}

/** PgBouncer's answer to a startup parameter it does not pass on. */
function isUnsupportedStartupParameter(error: unknown): boolean {
  return error instanceof Error && /unsupported startup parameter/i.test(error.message);
}

// SQLSTATEs of a refused login: invalid_authorization_specification (pg_hba reject or no entry),
// invalid_password, invalid_catalog_name (no such database), insufficient_privilege (no CONNECT).
const REFUSED_LOGIN: Record<string, string> = {
  '28000': 'The database refused the login (pg_hba.conf)',
  '28P01': 'The database refused the password',
  '3D000': 'The database does not exist',
  '42501': 'The role may not connect to the database',
};

/**
 * Why no amount of waiting will help, or undefined for failures that can pass: refused or
 * reset connections, DNS, timeouts, "the database system is starting up" (57P03), too many
 * connections, a pooler that cannot reach its server.
 */
export function permanentFailure(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') {
    if (error instanceof Error && error.message === 'The server does not support SSL connections') {
      return 'The database does not offer TLS, which sslmode asks for';
    }
    return undefined;
  }
  if (REFUSED_LOGIN[code]) return REFUSED_LOGIN[code];
  // Node's TLS verification errors (UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN,
  // ERR_TLS_CERT_ALTNAME_INVALID, CERT_HAS_EXPIRED…) and failed handshakes (ERR_SSL_…).
  if (/CERT|SIGNATURE|^UNABLE_TO_|^ERR_SSL_/.test(code)) {
    return 'The database server certificate did not verify (see sslmode and sslrootcert in DATABASE_URL)';
  }
  return undefined;
}
