import type { Handlers } from '../contract/types.ts';
import { validationFailed, type FieldError } from '../errors.ts';
import { AppError } from '../errors.ts';
import type { SessionService } from './service.ts';
import { metadataErrors } from './rules.ts';

type SessionHandlers = Pick<Handlers, 'createSession' | 'getSession' | 'listSessions' | 'updateSession' | 'deleteSession'>;

/** Translate a validated request into a service call, and its result into a reply. */
export function createSessionHandlers(sessions: SessionService, basePath: string): SessionHandlers {
  return {
    async createSession({ body }) {
      assertValid(body.metadata ? metadataErrors(body.metadata) : []);
      const { session, etag } = await sessions.create(body);
      return { status: 201, body: session, headers: { Location: `${basePath}/sessions/${session.id}`, ETag: etag } };
    },

    async getSession({ path }) {
      const { session, etag } = await sessions.get(path.id);
      return { status: 200, body: session, headers: { ETag: etag } };
    },

    async listSessions({ query }) {
      if (query.offset !== undefined && query.cursor !== undefined) {
        const message = 'offset and cursor cannot be used together: page with one or the other';
        throw new AppError('validation_failed', message, { errors: [{ in: 'query', pointer: '/cursor', message }] });
      }
      return { status: 200, body: await sessions.list(query), headers: {} };
    },

    async updateSession({ path, body }) {
      const { session, etag } = await sessions.update(path.id, body);
      return { status: 200, body: session, headers: { ETag: etag } };
    },

    async deleteSession({ path, query }) {
      if (query.hard) await sessions.hardDelete(path.id);
      else await sessions.softDelete(path.id);
      return { status: 204, headers: {} };
    },
  };
}

function assertValid(errors: FieldError[]): void {
  if (errors.length) throw validationFailed(errors);
}
