import type { Handlers } from '../contract/types.ts';
import { type Caller, callerScope, ownerScope } from '../auth/caller.ts';
import { AppError, type FieldError, validationFailed } from '../errors.ts';
import type { IdempotencyStore } from '../idempotency/store.ts';
import { noneMatch, preconditionOf } from '../http/etag.ts';
import { metadataErrors, metadataPatchErrors } from '../rules.ts';
import type { SessionService } from './service.ts';

type SessionHandlers = Pick<Handlers, 'createSession' | 'getSession' | 'listSessions' | 'updateSession' | 'deleteSession'>;

/** Translate a validated request into a service call, and its result into a reply. */
export function createSessionHandlers(
  sessions: SessionService,
  idempotency: IdempotencyStore,
  basePath: string,
  onReplay: () => void,
): SessionHandlers {
  return {
    async createSession({ body: request, headers, caller }) {
      const body = { ...request, user_id: ownerOfNewSession(request.user_id, caller) };
      assertValid(body.metadata ? metadataErrors(body.metadata) : []);
      const create = async (db?: Parameters<SessionService['create']>[1]) => {
        const { session, etag } = await sessions.create(body, db);
        return { status: 201 as const, body: session, headers: { Location: `${basePath}/sessions/${session.id}`, ETag: etag } };
      };
      const key = headers['Idempotency-Key'];
      if (key === undefined) return create();
      const { reply, replayed } = await idempotency.once(callerScope(caller), key, { createSession: body }, create);
      const created = reply as Awaited<ReturnType<typeof create>>;
      if (!replayed) return created;
      onReplay();
      return { ...created, headers: { ...created.headers, 'Idempotent-Replayed': 'true' } };
    },

    async getSession({ path, headers, caller }) {
      const { session, etag } = await sessions.get(path.id, ownerScope(caller));
      if (!noneMatch(headers['If-None-Match'], etag)) return { status: 304, headers: { ETag: etag } };
      return { status: 200, body: session, headers: { ETag: etag } };
    },

    async listSessions({ query, caller }) {
      if (query.offset !== undefined && query.cursor !== undefined) {
        const message = 'offset and cursor cannot be used together: page with one or the other';
        throw validationFailed([{ in: 'query', pointer: '/cursor', message }]);
      }
      const owner = ownerScope(caller);
      if (owner !== undefined && query.user_id !== undefined && query.user_id !== owner) {
        throw new AppError('forbidden', 'A user token may list only its own sessions: drop user_id or give your own');
      }
      const scoped = owner === undefined ? query : { ...query, user_id: owner };
      return { status: 200, body: await sessions.list(scoped, callerScope(caller)), headers: {} };
    },

    async updateSession({ path, body, headers, caller }) {
      // Even keys the patch removes must be storable text (the merged result is checked later).
      assertValid(metadataPatchErrors(body.metadata));
      const { session, etag } = await sessions.update(path.id, body, preconditionOf(headers['If-Match']), ownerScope(caller));
      return { status: 200, body: session, headers: { ETag: etag } };
    },

    async deleteSession({ path, query, headers, caller }) {
      const precondition = preconditionOf(headers['If-Match']);
      if (query.hard) await sessions.hardDelete(path.id, precondition, ownerScope(caller));
      else await sessions.softDelete(path.id, precondition, ownerScope(caller));
      return { status: 204, headers: {} };
    },
  };
}

/** A user creates sessions for itself (user_id may be omitted); a service names the user. */
function ownerOfNewSession(requested: string | undefined, caller: Caller): string {
  if (caller.kind === 'user') {
    if (requested !== undefined && requested !== caller.userId) {
      throw new AppError('forbidden', 'A user token may create sessions only for its own user_id: drop user_id or give your own');
    }
    return caller.userId;
  }
  if (requested === undefined) {
    const message = 'user_id is required (only a user token may omit it: it then defaults to the caller)';
    throw validationFailed([{ in: 'body', pointer: '/user_id', message }]);
  }
  return requested;
}

function assertValid(errors: FieldError[]): void {
  if (errors.length) throw validationFailed(errors);
}
