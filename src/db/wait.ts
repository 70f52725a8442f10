import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/**
 * Waits for the database to accept connections, with exponential backoff and jitter, for at most
 * `timeoutMs`: a service started before its database (or during a failover) comes up on its own.
 */
export async function waitForDatabase(
  databaseUrl: string,
  { timeoutMs, onRetry }: { timeoutMs: number; onRetry?: (error: unknown, delayMs: number) => void },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000 });
    client.on('error', () => {}); // a connection dropped while we give up on it
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      const delay = Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (Date.now() + delay > deadline) {
        throw new Error(`The database did not answer within ${timeoutMs} ms (DB_STARTUP_TIMEOUT_MS): ${(error as Error).message}`);
      }
      onRetry?.(error, delay);
      await sleep(delay);
    } finally {
      await client.end().catch(() => {});
    }
  }
}
