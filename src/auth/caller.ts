/**
 * Who is calling. A user acts only on its own sessions; a service acts for any user;
 * `local` is every caller when authentication is off (AUTH_MODE=none), with a service's rights.
 * A service is named by its token's `sub` or, when it has none (Supabase's service key), by its
 * role and project (see serviceName in authenticate.ts).
 */
export type Caller =
  | { kind: 'user'; userId: string }
  | { kind: 'service'; name: string }
  | { kind: 'local' };

/** The only user whose sessions this caller may touch, or undefined for "any user". */
export function ownerScope(caller: Caller): string | undefined {
  return caller.kind === 'user' ? caller.userId : undefined;
}

/** A name that keeps one caller's idempotency keys and cursors useless to another. */
export function callerScope(caller: Caller): string {
  switch (caller.kind) {
    case 'user':
      return `user:${caller.userId}`;
    case 'service':
      return `service:${caller.name}`;
    case 'local':
      return '';
  }
}

/** How logs name a caller: a service by its name, a user only as "user" (its id is personal data). */
export function callerLabel(caller: Caller): string {
  return caller.kind === 'service' ? `service:${caller.name}` : caller.kind;
}
