import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { requestLogger } from './logging.ts';
import { type Metrics, requestRecorder } from './metrics.ts';
import { assignRequestId } from './request-id.ts';

type Options = {
  logger: Logger;
  metrics: Metrics;
  /** True once shutdown began: answers then close their connection. */
  isDraining: () => boolean;
};

/**
 * What every request gets, whatever it asks for: a request id, `nosniff`, a log line, its
 * metrics and, during shutdown, `Connection: close`. One middleware rather than five: each Koa
 * middleware is a promise hop on every request.
 */
export function edge({ logger, metrics, isDraining }: Options) {
  const logRequest = requestLogger(logger);
  const recordRequest = requestRecorder(metrics);
  return async function edge(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    assignRequestId(ctx);
    // ctx.res.setHeader rather than Koa's ctx.set, on every request: ctx.set takes objects and
    // arrays too, and allocates four arrays per call to do so (its biggest allocation per request).
    ctx.res.setHeader('X-Content-Type-Options', 'nosniff');
    try {
      await next();
    } finally {
      // Checked after the handler: requests in flight when shutdown began close their connection too.
      if (isDraining()) ctx.res.setHeader('Connection', 'close');
      const durationMs = performance.now() - started;
      recordRequest(ctx, durationMs);
      logRequest(ctx, durationMs);
    }
  };
}
