import Router from '@koa/router';
import type { Context } from 'koa';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { timingSafeEqual } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import { AppError } from '../errors.ts';

/**
 * Prometheus metrics (GET /metrics): requests by operation and status, latency, pool usage,
 * database errors by kind, retries and idempotent replays, plus Node's process metrics.
 * Not part of the public contract.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelled = <T extends string>(name: string, help: string, labelNames: T[]) =>
    new Counter({ name, help, labelNames, registers: [registry] });

  return {
    registry,
    requests: labelled('http_requests_total', 'HTTP requests answered, by operation and status', ['operation', 'status']),
    requestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by operation and status',
      labelNames: ['operation', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    databaseErrors: labelled('db_errors_total', 'Failed database calls, by kind', ['kind']),
    retries: labelled('db_retries_total', 'Database calls retried, by the kind of failure', ['kind']),
    idempotentReplays: labelled('idempotent_replays_total', 'Responses replayed for a repeated Idempotency-Key', []),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Counts each answered request and its duration, by operation and status. */
export function requestRecorder(metrics: Metrics) {
  // The labelled series, looked up once per operation and status rather than on every request.
  const series = new Map<string, { count: { inc: () => void }; duration: { observe: (seconds: number) => void } }>();
  const seriesOf = (operation: string, status: number) => {
    const key = `${operation} ${status}`;
    let found = series.get(key);
    if (!found) {
      found = { count: metrics.requests.labels(operation, String(status)), duration: metrics.requestDuration.labels(operation, String(status)) };
      series.set(key, found);
    }
    return found;
  };
  return function recordRequest(ctx: Context, durationMs: number): void {
    const { count, duration } = seriesOf(ctx.state.operationId ?? 'none', ctx.status);
    duration.observe(durationMs / 1000);
    count.inc();
  };
}

/** GET /metrics, with the pool's figures read at scrape time. */
export function metricsRouter(metrics: Metrics, pool: DatabasePool, token?: string): Router {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.set(read());
      },
    });
  gauge('db_pool_size', 'Connections open in the pool', () => pool.state().acquiredConnections + pool.state().idleConnections);
  gauge('db_pool_idle', 'Idle connections in the pool', () => pool.state().idleConnections);
  gauge('db_pool_acquired', 'Connections in use', () => pool.state().acquiredConnections);
  gauge('db_pool_waiting', 'Requests waiting for a connection', () => pool.state().waitingClients);

  const expected = token === undefined ? undefined : Buffer.from(`Bearer ${token}`);
  return new Router().get('/metrics', async (ctx) => {
    if (expected && !sameSecret(Buffer.from(ctx.get('Authorization')), expected)) {
      throw new AppError('unauthorized', 'GET /metrics needs the metrics bearer token (METRICS_TOKEN)', {
        headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' },
      });
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
}

function sameSecret(given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected);
}
