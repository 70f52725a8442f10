import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import { createApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './db/embedded.ts';
import { migrate, migrateOver } from './db/migrate.ts';
import { databaseTarget } from './db/connection.ts';
import { createDatabasePool, sessionTimeouts } from './db/pool.ts';
import { createRetry } from './db/retry.ts';
import { loadSecret } from './db/secrets.ts';
import { connectWhenReady, type ReachedDatabase, waitForDatabase } from './db/wait.ts';
import { clientErrorAnswerer } from './http/client-errors.ts';
import { createLogger, logFormat } from './http/logging.ts';
import { createMetrics } from './http/metrics.ts';
import { createIdempotencyStore, purgeExpiredKeysPeriodically } from './idempotency/store.ts';
import { projectRoot } from './paths.ts';

const { version } = JSON.parse(readFileSync(new URL('package.json', projectRoot), 'utf8')) as { version: string };

export type RunningService = { server: Server; url: string; stop: () => Promise<void> };

/** config → database (embedded when DATABASE_URL is unset) → migrations → pool → app → listen. */
export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    logger.info({ dir: config.EMBEDDED_PG_DIR, port: config.EMBEDDED_PG_PORT }, 'starting the embedded PostgreSQL');
    embedded = await startEmbeddedPostgres({
      dir: config.EMBEDDED_PG_DIR,
      port: config.EMBEDDED_PG_PORT,
      log: (line) => logger.debug({ component: 'postgres' }, line),
      // Nothing restarts it: without this line an on-call engineer sees only 503s and ECONNREFUSED.
      onUnexpectedExit: (code, signal) =>
        logger.error(
          { component: 'postgres', exit_code: code, signal, dir: config.EMBEDDED_PG_DIR },
          'the embedded PostgreSQL exited: requests that need the database answer 503 until it is back; restart the service to start it again',
        ),
    });
    databaseUrl = embedded.url;
  }
  try {
    const onRetry = (error: unknown, delayMs: number) =>
      logger.warn({ err: { message: (error as Error).message }, retry_in_ms: Math.round(delayMs) }, 'waiting for the database');
    const timeoutMs = config.DB_STARTUP_TIMEOUT_MS;
    const { client, ...reached } = await connectWhenReady(databaseTarget(databaseUrl), { timeoutMs, timeouts: sessionTimeouts(config), onRetry });
    if (!reached.startupTimeouts) warnAboutPoolerTimeouts(logger, reached, config);
    const migrateAndLoadSecret = async () => {
      const log = (message: string) => logger.warn({ component: 'migrate' }, message);
      // Migrations over MIGRATION_DATABASE_URL when set: a direct connection beside a pooler.
      const applied = config.MIGRATION_DATABASE_URL
        ? await migrate((await waitForDatabase(databaseTarget(config.MIGRATION_DATABASE_URL, { name: 'MIGRATION_DATABASE_URL' }), { timeoutMs, onRetry })).target, log)
        : await migrateOver(client, log);
      if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
      return config.CURSOR_SECRET ? Buffer.from(config.CURSOR_SECRET) : await loadSecret(client, 'cursor');
    };
    // Side by side: the pool opens a connection of its own to look up its type parsers (Slonik's
    // createPool) while the migrations are checked over the first one.
    const [pooled, secret] = await Promise.allSettled([createDatabasePool(reached, config), migrateAndLoadSecret()]).finally(() =>
      client.end().catch(() => {}),
    );
    if (secret.status === 'rejected') {
      if (pooled.status === 'fulfilled') await pooled.value.end().catch(() => {});
      throw secret.reason;
    }
    if (pooled.status === 'rejected') throw pooled.reason;
    const pool = pooled.value;
    // The pool's first connection opens while the app is built, not on the first request. A
    // failure here is the first request's to report (503 from /health), as it was before.
    void pool.connect(async () => {}).catch(() => {});
    const cursorSecret = secret.value;
    const metrics = createMetrics();
    let draining = false;
    const app = await createApp({ config, pool, logger, metrics, cursorSecret, version, isDraining: () => draining });
    const stopPurging = purgeExpiredKeysPeriodically(
      createIdempotencyStore(pool, createRetry({ limit: config.DB_RETRY_LIMIT }), { waitMs: 0 }),
      10 * 60_000,
      (error) => logger.warn({ err: error }, 'purging expired idempotency keys failed'),
    );
    const server = app.listen(config.PORT, config.HOST);
    server.on('clientError', clientErrorAnswerer(logger));
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;

    const stop = async () => {
      draining = true;
      stopPurging();
      await closeServer(server, config.SHUTDOWN_TIMEOUT_MS);
      await pool.end();
      await embedded?.stop();
    };
    return { server, url, stop };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

/**
 * Behind a pooler in transaction mode the timeouts cannot travel as startup parameters: the
 * role's own settings bound the statements then. Say so once, and say how when they do not.
 */
function warnAboutPoolerTimeouts(logger: Logger, { statementTimeoutMs }: ReachedDatabase, config: Config): void {
  const details = { statement_timeout_ms: statementTimeoutMs, DB_STATEMENT_TIMEOUT_MS: config.DB_STATEMENT_TIMEOUT_MS };
  if (statementTimeoutMs > 0) {
    logger.info(details, "the database (a pooler?) takes no startup parameters: statements run with the role's statement_timeout");
  } else {
    logger.warn(
      details,
      'the database (a pooler?) takes no startup parameters and the role sets no statement_timeout: statements are unbounded. ' +
        "Set one for the role: ALTER ROLE <role> SET statement_timeout = '5s'",
    );
  }
}

/**
 * Stops accepting connections and lets in-flight requests finish (up to the timeout, after which
 * the rest are cut). Answers sent meanwhile say `Connection: close` (the app's drain middleware).
 * Idle kept-alive connections are closed after a short grace, not at once: a request already on
 * the wire when shutdown began would otherwise meet a reset connection.
 */
async function closeServer(server: Server, timeoutMs: number): Promise<void> {
  // net.Server's close: stop accepting, without http.Server's immediate sweep of idle sockets.
  const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
  const sweeper = setInterval(() => server.closeIdleConnections(), IDLE_GRACE_MS);
  const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearInterval(sweeper);
  clearTimeout(deadline);
}

const IDLE_GRACE_MS = 250;

export async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.LOG_LEVEL, { format: logFormat(config.LOG_FORMAT, config.NODE_ENV, process.stdout) });
  let service: RunningService;
  try {
    service = await startService(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'the service could not start');
    process.exit(1);
  }
  logger.info({ url: service.url, version }, 'listening');
  if (config.AUTH_MODE === 'none') {
    logger.warn('AUTH_MODE=none: every caller may act for any user. Set AUTH_MODE=jwt and JWT_SECRET or JWT_JWKS_URL in production');
  }

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1); // a second signal: stop waiting
    stopping = true;
    logger.info({ signal }, 'shutting down');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

if (import.meta.main) await main();
