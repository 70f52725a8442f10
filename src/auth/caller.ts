/**
 * Who is calling. A user acts only on its own sessions; a service acts for any user;
 * `local` is every caller when authentication is off (AUTH_MODE=none), with a service's rights.
 */
export type Caller =
  | { kind: 'user'; userId: string }
  | { kind: 'service'; subject: string }
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
      return `service:${caller.subject}`;
    case 'local':
      return '';
  }
}
