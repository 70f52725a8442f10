import cors from '@koa/cors';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { Config } from './config.ts';
import { createContractRouter, unroutedRequests } from './contract/dispatch.ts';
import { basePathOf, loadSpec } from './contract/spec.ts';
import { bodyFieldValidator } from './contract/validation.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { createRetry } from './db/retry.ts';
import { createHealthHandlers } from './health.ts';
import { edge } from './http/edge.ts';
import { streamFailureLogger } from './http/logging.ts';
import { type Metrics, metricsRouter } from './http/metrics.ts';
import { createIdempotencyStore } from './idempotency/store.ts';
import { createDocsRouter } from './http/docs.ts';
import { problemBoundary } from './http/problems.ts';
import { createCursorCodec } from './sessions/cursor.ts';
import { createSessionHandlers } from './sessions/handlers.ts';
import { metadataErrors } from './rules.ts';
import { trimTitle } from './sessions/rules.ts';
import { createSessionService } from './sessions/service.ts';
import { createMessageHandlers } from './messages/handlers.ts';
import { createMessageService } from './messages/service.ts';
import { createPortabilityHandlers } from './portability/handlers.ts';
import { createImportValidator } from './portability/import.ts';
import { createPortabilityService } from './portability/service.ts';
import { createSearchHandlers } from './search/handlers.ts';
import { createSearchService } from './search/service.ts';

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
  const cursors = createCursorCodec(cursorSecret);
  const sessions = createSessionService(pool, retry, cursors, checkMetadata);
  const search = createSearchService(pool, retry, cursors);
  const messages = createMessageService(pool, retry, {
    maxPerSession: config.MAX_MESSAGES_PER_SESSION,
    inProgressTimeoutS: config.IN_PROGRESS_TIMEOUT_S,
    maxParts: (spec.components!.schemas!.MessageContent as { maxItems: number }).maxItems,
  });
  const idempotency = createIdempotencyStore(pool, retry, { waitMs: config.IDEMPOTENCY_WAIT_MS });
  const portability = createPortabilityService(pool, retry, { sessions, messages, checkMetadata });
  const validateImport = createImportValidator(spec, { maxMessages: config.MAX_MESSAGES_PER_SESSION });
  const onReplay = () => metrics.idempotentReplays.inc();

  const router = await createContractRouter({
    spec,
    authenticate: createAuthenticator(config),
    handlers: {
      ...createHealthHandlers(pool, version),
      ...createSessionHandlers(sessions, idempotency, basePath, onReplay),
      ...createMessageHandlers(messages, idempotency, metadataSchemaErrors, onReplay),
      ...createPortabilityHandlers(portability, validateImport, idempotency, basePath, onReplay),
      ...createSearchHandlers(search),
    },
    bodyLimit: config.BODY_LIMIT,
    // Messages carry conversations (up to 100 of up to 1 MiB each): a limit of their own.
    bodyLimits: {
      appendMessages: config.MESSAGES_BODY_LIMIT,
      updateMessage: config.MESSAGES_BODY_LIMIT,
      appendMessageText: config.MESSAGES_BODY_LIMIT,
      // A whole conversation as JSON Lines.
      importSession: config.IMPORT_BODY_LIMIT,
    },
    normalizeBody: { createSession: trimTitle, updateSession: trimTitle, forkSession: trimTitle },
  });

  // Every route in one router: one match per request. Unrouted requests are told what the
  // contract allows on their path.
  const routes = new Router().use(router.routes(), docs.routes(), metricsRouter(metrics, pool, config.METRICS_TOKEN).routes());

  const app = new Koa();
  app.silent = true; // every error is answered and logged by the middleware below
  // …except a streamed body (an export) that fails after its 200 went out: Koa reports that here.
  app.on('error', streamFailureLogger(logger));
  app.use(edge({ logger, metrics, isDraining: dependencies.isDraining }));
  if (config.CORS_ORIGINS.length) app.use(corsFor(config.CORS_ORIGINS));
  app.use(problemBoundary(config.MAX_URL_LENGTH));
  app.use(routes.routes());
  app.use(unroutedRequests(router));
  return app;
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
