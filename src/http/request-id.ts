import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';

/** A request id a client may choose: 1–128 visible ASCII characters. */
export const acceptableRequestId = /^[\x21-\x7E]{1,128}$/;

/** Keeps the caller's X-Request-Id when it is 1–128 visible ASCII characters, else makes one. */
export function assignRequestId(ctx: Context): void {
  const given = ctx.get('X-Request-Id');
  const id = acceptableRequestId.test(given) ? given : randomUUID();
  ctx.state.requestId = id;
  ctx.res.setHeader('X-Request-Id', id);
}

/** The same, as a middleware of its own (for apps assembled from parts, in tests and benchmarks). */
export async function requestId(ctx: Context, next: Next): Promise<void> {
  assignRequestId(ctx);
  await next();
}
