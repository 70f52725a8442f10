import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';

const acceptable = /^[\x21-\x7E]{1,128}$/;

/** Keeps the caller's X-Request-Id when it is 1–128 visible ASCII characters, else makes one. */
export async function requestId(ctx: Context, next: Next): Promise<void> {
  const given = ctx.get('X-Request-Id');
  const id = acceptable.test(given) ? given : randomUUID();
  ctx.state.requestId = id;
  ctx.set('X-Request-Id', id);
  await next();
}
