import cors from '@koa/cors';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { Config } from './config.ts';
import { createContractRouter, unroutedRequests } from './contract/dispatch.ts';
import { basePathOf, loadSpec } from './contract/spec.ts';
import { bodyFieldValidator } from './contract/validation.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { createRetry } from './db/retry.ts';
import { AppError } from './errors.ts';
import { createHealthHandlers } from './health.ts';
import { type Metrics, metricsRouter, observeRequests } from './http/metrics.ts';
import { createIdempotencyStore } from './idempotency/store.ts';
import { createDocsRouter } from './http/docs.ts';
import { requestLogging } from './http/logging.ts';
import { problems } from './http/problems.ts';
import { requestId } from './http/request-id.ts';
import { createCursorCodec } from './sessions/cursor.ts';
import { createSessionHandlers } from './sessions/handlers.ts';
import { metadataErrors, trimTitle } from './sessions/rules.ts';
import { createSessionService } from './sessions/service.ts';

export type AppDependencies = {
  config: Config;
  pool: DatabasePool;
  logger: Logger;
  metrics: Metrics;
  cursorSecret: Buffer;
  version: string;
  /** True once shutdown began: answers then close their connection. */
  isDraining: () => boolean;
};

export async function createApp(dependencies: AppDependencies): Promise<Koa> {
  const { config, pool, logger, metrics, cursorSecret, version } = dependencies;
  const spec = await loadSpec();
  const docs = createDocsRouter(spec); // first: it serialises the contract as written
  const basePath = basePathOf(spec);
  const retry = createRetry({
    limit: config.DB_RETRY_LIMIT,
    onFailure: (kind, willRetry) => {
      metrics.databaseErrors.inc({ kind });
      if (willRetry) metrics.retries.inc({ kind });
    },
  });

  // Metadata after a merge patch must still satisfy the contract's Metadata schema and the rules beyond it.
  const metadataSchemaErrors = bodyFieldValidator(spec.components!.schemas!.Metadata!, 'metadata');
  const checkMetadata = (metadata: Record<string, unknown>) => [
    ...metadataSchemaErrors(metadata),
    ...metadataErrors(metadata),
  ];
  const sessions = createSessionService(pool, retry, createCursorCodec(cursorSecret), checkMetadata);
  const idempotency = createIdempotencyStore(pool, retry, { waitMs: config.IDEMPOTENCY_WAIT_MS });

  const router = await createContractRouter({
    spec,
    authenticate: createAuthenticator(config),
    handlers: { ...createHealthHandlers(pool, version), ...createSessionHandlers(sessions, idempotency, basePath, () => metrics.idempotentReplays.inc()) },
    bodyLimit: config.BODY_LIMIT,
    normalizeBody: { createSession: trimTitle, updateSession: trimTitle },
  });

  const app = new Koa();
  app.silent = true; // every error is answered and logged by the middleware below
  app.use(requestId);
  app.use(noSniffing);
  app.use(requestLogging(logger));
  app.use(observeRequests(metrics));
  app.use(closeConnectionsWhenDraining(dependencies.isDraining));
  if (config.CORS_ORIGINS.length) app.use(corsFor(config.CORS_ORIGINS));
  app.use(problems);
  app.use(boundUrlLength(config.MAX_URL_LENGTH));
  app.use(metricsRouter(metrics, pool, config.METRICS_TOKEN).routes());
  app.use(docs.routes());
  app.use(router.routes());
  app.use(unroutedRequests(router));
  return app;
}

async function noSniffing(ctx: Koa.Context, next: Koa.Next): Promise<void> {
  ctx.set('X-Content-Type-Options', 'nosniff');
  await next();
}

/** URLs are bounded here; request headers are bounded by Node (16 KiB, src/http/client-errors.ts). */
function boundUrlLength(maxUrlLength: number) {
  return async function boundUrl(ctx: Koa.Context, next: Koa.Next): Promise<void> {
    if (ctx.url.length > maxUrlLength) {
      throw new AppError('uri_too_long', `The URL must be at most ${maxUrlLength} characters`);
    }
    await next();
  };
}

function closeConnectionsWhenDraining(isDraining: () => boolean) {
  return async function drain(ctx: Koa.Context, next: Koa.Next): Promise<void> {
    await next();
    // Checked after the handler: requests in flight when shutdown began close their connection too.
    if (isDraining()) ctx.set('Connection', 'close');
  };
}

function corsFor(origins: string[]) {
  const anyOrigin = origins.includes('*');
  return cors({
    origin: (ctx) => (anyOrigin ? '*' : origins.includes(ctx.get('Origin')) ? ctx.get('Origin') : ''),
    exposeHeaders: ['ETag', 'Location', 'X-Request-Id', 'Retry-After', 'Allow'],
    allowHeaders: ['If-Match', 'If-None-Match', 'Idempotency-Key', 'Content-Type', 'Authorization', 'X-Request-Id'],
    allowMethods: ['GET', 'POST', 'PATCH', 'DELETE'],
    maxAge: 600,
    keepHeadersOnError: true,
  });
}
