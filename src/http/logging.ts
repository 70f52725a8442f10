import type { Context } from 'koa';
import { pino, type Logger } from 'pino';
import { type Caller, callerLabel } from '../auth/caller.ts';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/**
 * One JSON line per request: method, route template, status, duration, request id and who called
 * (a service by name; a user only as "user"). Never tokens, user ids, bodies, metadata, query
 * values or headers (they may carry personal data or secrets).
 */
export function requestLogger(logger: Logger) {
  const logsEveryRequest = logger.isLevelEnabled('info');
  return function logRequest(ctx: Context, durationMs: number): void {
    if (ctx.status < 500 && !logsEveryRequest) return;
    const line = {
      request_id: ctx.state.requestId,
      method: ctx.method,
      route: ctx.state.route ?? null,
      operation_id: ctx.state.operationId ?? null,
      status: ctx.status,
      caller: ctx.state.caller ? callerLabel(ctx.state.caller as Caller) : null,
      duration_ms: Math.round(durationMs * 100) / 100,
    };
    const failure: unknown = ctx.state.failure;
    if (ctx.status >= 500) logger.error({ ...line, err: describeFailure(failure) }, 'request failed');
    else logger.info(line, 'request');
  };
}

/** What on-call needs of a failure, without the SQL values or payloads some errors carry. */
function describeFailure(failure: unknown) {
  if (!(failure instanceof Error)) return failure === undefined ? undefined : { message: String(failure) };
  const cause = failure.cause instanceof Error ? failure.cause : undefined;
  return {
    type: failure.name !== 'Error' ? failure.name : failure.constructor.name,
    message: failure.message,
    code: (failure as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code,
    stack: failure.stack,
  };
}
