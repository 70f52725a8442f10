import type { Handlers } from '../contract/types.ts';
import { type FieldError, validationFailed } from '../errors.ts';
import type { IdempotencyStore } from '../idempotency/store.ts';
import { noneMatch, preconditionOf } from './etag.ts';
import { metadataErrors, unstorableValues } from './rules.ts';
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
    async createSession({ body, headers }) {
      assertValid(body.metadata ? metadataErrors(body.metadata) : []);
      const create = async (db?: Parameters<SessionService['create']>[1]) => {
        const { session, etag } = await sessions.create(body, db);
        return { status: 201 as const, body: session, headers: { Location: `${basePath}/sessions/${session.id}`, ETag: etag } };
      };
      const key = headers['Idempotency-Key'];
      if (key === undefined) return create();
      const { reply, replayed } = await idempotency.once('', key, { createSession: body }, create);
      const created = reply as Awaited<ReturnType<typeof create>>;
      if (!replayed) return created;
      onReplay();
      return { ...created, headers: { ...created.headers, 'Idempotent-Replayed': 'true' } };
    },

    async getSession({ path, headers }) {
      const { session, etag } = await sessions.get(path.id);
      if (!noneMatch(headers['If-None-Match'], etag)) return { status: 304, headers: { ETag: etag } };
      return { status: 200, body: session, headers: { ETag: etag } };
    },

    async listSessions({ query }) {
      if (query.offset !== undefined && query.cursor !== undefined) {
        const message = 'offset and cursor cannot be used together: page with one or the other';
        throw validationFailed([{ in: 'query', pointer: '/cursor', message }]);
      }
      return { status: 200, body: await sessions.list(query), headers: {} };
    },

    async updateSession({ path, body, headers }) {
      // Even keys the patch removes must be storable text (the merged result is checked later).
      assertValid(unstorableValues(body.metadata, '/metadata'));
      const { session, etag } = await sessions.update(path.id, body, preconditionOf(headers['If-Match']));
      return { status: 200, body: session, headers: { ETag: etag } };
    },

    async deleteSession({ path, query, headers }) {
      const precondition = preconditionOf(headers['If-Match']);
      if (query.hard) await sessions.hardDelete(path.id, precondition);
      else await sessions.softDelete(path.id, precondition);
      return { status: 204, headers: {} };
    },
  };
}

function assertValid(errors: FieldError[]): void {
  if (errors.length) throw validationFailed(errors);
}
