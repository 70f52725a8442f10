import type { Context, Next } from 'koa';
import { classifyFailure } from '../db/retry.ts';
import { AppError, type ErrorKind } from '../errors.ts';

const kinds: Record<ErrorKind, { status: number; title: string }> = {
  validation_failed: { status: 400, title: 'Validation failed' },
  malformed_json: { status: 400, title: 'Malformed JSON' },
  invalid_cursor: { status: 400, title: 'Invalid cursor' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  route_not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  idempotency_in_progress: { status: 409, title: 'Request in progress' },
  session_closed: { status: 409, title: 'Session closed' },
  session_deleted: { status: 409, title: 'Session deleted' },
  session_full: { status: 409, title: 'Session full' },
  message_not_in_progress: { status: 409, title: 'Message not in progress' },
  precondition_failed: { status: 412, title: 'Precondition failed' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  content_too_large: { status: 413, title: 'Content too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  idempotency_key_reused: { status: 422, title: 'Idempotency key reused' },
  query_too_broad: { status: 422, title: 'Query too broad' },
  metadata_full: { status: 422, title: 'Metadata full' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
  internal_error: { status: 500, title: 'Internal server error' },
};

/** `type` URI of each kind; both 404 kinds share one, as the contract's table says. */
function typeOf(kind: ErrorKind): string {
  const name = kind === 'route_not_found' ? 'not-found' : kind.replaceAll('_', '-');
  return `/problems/${name}`;
}

export const RETRY_AFTER_SECONDS = 1;

/** Turns anything thrown by a request into an AppError; unknown failures become internal errors. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const kind = classifyFailure(error);
  if (kind === 'other') {
    return new AppError('internal_error', 'An unexpected error occurred; quote the request id when reporting it');
  }
  const detail =
    kind === 'terminated'
      ? 'The connection to the database was lost: a write may or may not have been applied. Retry it with the same Idempotency-Key or If-Match to be safe'
      : 'The database is unavailable; retry later';
  return new AppError('service_unavailable', detail, { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } });
}

/**
 * The error boundary: every failure leaves as an RFC 9457 problem document. URLs longer than
 * `maxUrlLength` are refused here (request headers are bounded by Node: src/http/client-errors.ts).
 */
export function problemBoundary(maxUrlLength = Number.POSITIVE_INFINITY) {
  return async function problems(ctx: Context, next: Next): Promise<void> {
    try {
      if (ctx.url.length > maxUrlLength) {
        throw new AppError('uri_too_long', `The URL must be at most ${maxUrlLength} characters`);
      }
      await next();
    } catch (thrown) {
      const error = toAppError(thrown);
      if (error.kind === 'internal_error' || error.kind === 'service_unavailable') {
        ctx.state.failure = thrown; // logged with the request line, never sent
      }
      sendProblem(ctx, error);
    }
  };
}

/** The boundary with no URL limit (for apps assembled from parts, in tests and benchmarks). */
export const problems = problemBoundary();

export function sendProblem(ctx: Context, error: AppError): void {
  const { status, title } = kinds[error.kind];
  ctx.status = status;
  for (const [name, value] of Object.entries(error.headers ?? {})) ctx.set(name, value);
  ctx.type = 'application/problem+json';
  ctx.body = {
    type: typeOf(error.kind),
    title,
    status,
    detail: error.message,
    instance: ctx.path,
    error: title,
    timestamp: new Date().toISOString(),
    request_id: ctx.state.requestId,
    ...(error.errors ? { errors: error.errors } : {}),
  };
}
