import type { Context } from 'koa';
import { pino, type DestinationStream, type Logger } from 'pino';
import { type Caller, callerLabel } from '../auth/caller.ts';

export type LogFormat = 'json' | 'pretty';

/**
 * LOG_FORMAT when set; else readable lines for a person at a terminal, and JSON lines for
 * whatever reads a pipe or a file (a log shipper, `jq`) and always in production.
 */
export function logFormat(configured: LogFormat | undefined, nodeEnv: string, stdout: { isTTY?: boolean }): LogFormat {
  return configured ?? (stdout.isTTY && nodeEnv !== 'production' ? 'pretty' : 'json');
}

type LoggerOptions = {
  format?: LogFormat;
  /** Where lines go: standard output by default. Pretty lines are coloured when it is a terminal. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
};

export function createLogger(level: string, { format = 'json', destination }: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (format === 'json') return destination ? pino(options, destination) : pino(options);
  // A synchronous stream in this thread rather than a transport: no worker thread to start or flush.
  const out = destination ?? pino.destination({ dest: 1, sync: true });
  return pino(options, prettyStream(out, Boolean((destination ?? process.stdout).isTTY)));
}

const LEVEL_COLOURS: Record<string, number> = { fatal: 35, error: 31, warn: 33, info: 32, debug: 36, trace: 90 };

/** Turns pino's JSON lines into `12:34:56.789 INFO  msg key=value …`, with an error's stack below. */
export function prettyStream(out: { write(text: string): unknown }, colours: boolean): DestinationStream {
  const paint = (code: number | undefined, text: string) => (colours && code ? `\x1b[${code}m${text}\x1b[0m` : text);
  return {
    write(line: string) {
      const { time, level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
      // An error's stack goes below the line, indented; without one, its message is the err field.
      const { stack, message } = (fields.err ?? {}) as { stack?: unknown; message?: unknown };
      if (typeof stack === 'string' && stack) delete fields.err;
      else if (typeof message === 'string') fields.err = message;
      const label = String(level);
      const parts = [paint(90, clockTime(time)), paint(LEVEL_COLOURS[label], label.toUpperCase().padEnd(5)), String(msg ?? '')];
      for (const [key, value] of Object.entries(fields)) parts.push(`${paint(90, `${key}=`)}${showValue(value)}`);
      const below = typeof stack === 'string' && stack ? `\n    ${stack.replaceAll('\n', '\n    ')}` : '';
      out.write(`${parts.join(' ')}${below}\n`);
    },
  };
}

/** The local wall-clock time of an ISO timestamp, to the millisecond. */
function clockTime(time: unknown): string {
  const date = new Date(String(time));
  if (Number.isNaN(date.getTime())) return '';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** Strings bare unless they could be misread (spaces, quotes, `=`, nothing at all); the rest as JSON. */
function showValue(value: unknown): string {
  if (typeof value === 'string' && /^[^\s"=]+$/.test(value)) return value;
  return JSON.stringify(value) ?? String(value);
}

/**
 * One line per request: method, route template, status, duration, request id, who called
 * (a service by name; a user only as "user") and, for an error, its problem type. Never tokens, user ids, bodies, metadata, query
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
      // Which 4xx it was (session-closed or session-full?): the type is fixed text, never input.
      problem: ctx.status >= 400 ? problemType(ctx.body) : undefined,
    };
    const failure: unknown = ctx.state.failure;
    if (ctx.status >= 500) logger.error({ ...line, err: describeFailure(failure) }, 'request failed');
    else logger.info(line, 'request');
  };
}

/** A reader that hung up mid-body: its own doing, not a failure of ours. */
const READER_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE']);

/**
 * What Koa reports outside the middleware: a streamed body (an export) that failed after its
 * headers went out. The request's line was written with its 200 when the handler returned, so
 * without this line on-call would see a success for a download that was cut short.
 */
export function streamFailureLogger(logger: Logger) {
  return function logStreamFailure(error: Error & { code?: unknown }, ctx?: Context): void {
    if (typeof error.code === 'string' && READER_GONE.has(error.code)) return;
    logger.error(
      {
        request_id: ctx?.state.requestId,
        method: ctx?.method,
        route: ctx?.state.route ?? null,
        operation_id: ctx?.state.operationId ?? null,
        status: ctx?.status,
        err: describeFailure(error),
      },
      'response cut short: the body failed after its headers were sent',
    );
  };
}

function problemType(body: unknown): string | undefined {
  const type = (body as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
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
