/**
 * Failures as values with a kind. Services and handlers raise them; src/http/problems.ts is the
 * one place that turns a kind into an HTTP status and a problem document.
 */
export type ErrorKind =
  | 'validation_failed'
  | 'malformed_json'
  | 'unauthorized'
  | 'forbidden'
  | 'invalid_cursor'
  | 'not_found'
  | 'route_not_found'
  | 'method_not_allowed'
  | 'idempotency_in_progress'
  | 'session_closed'
  | 'session_deleted'
  | 'session_full'
  | 'message_not_in_progress'
  | 'precondition_failed'
  | 'payload_too_large'
  | 'content_too_large'
  | 'uri_too_long'
  | 'unsupported_media_type'
  | 'idempotency_key_reused'
  | 'query_too_broad'
  | 'metadata_full'
  | 'service_unavailable'
  | 'internal_error';

export type FieldError = {
  in: 'body' | 'query' | 'path' | 'header';
  /** The line of a JSON Lines body (1-based) the input is on; `pointer` then points into that line. */
  line?: number;
  /** JSON Pointer into the body, or `/name` of a parameter. */
  pointer: string;
  message: string;
};

export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(kind: ErrorKind, detail: string, extra: { errors?: FieldError[]; headers?: Record<string, string> } = {}) {
    super(detail);
    this.kind = kind;
    this.errors = extra.errors;
    this.headers = extra.headers;
  }
}

/**
 * A write that found nothing to change, and nothing that explains why: the row changed meanwhile
 * (the write is tried again: src/messages/service.ts).
 */
export class ChangedMeanwhile extends Error {}

/**
 * Raised by our own rules, not by the database: a transaction they end is rolled back, but its
 * connection is as good as it was (src/db/retry.ts keeps it).
 */
export function isAnswer(error: unknown): boolean {
  return error instanceof AppError || error instanceof ChangedMeanwhile;
}

/** A 400 that names every invalid field; its detail is the first message. */
export function validationFailed(errors: FieldError[]): AppError {
  const [first] = errors;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new AppError('validation_failed', `${first?.message ?? 'The request is invalid'}${more}`, { errors });
}

export function notFound(detail: string): AppError {
  return new AppError('not_found', detail);
}
