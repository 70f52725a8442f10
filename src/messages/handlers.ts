import type { Handlers, Schemas } from '../contract/types.ts';
import { callerScope, ownerScope } from '../auth/caller.ts';
import { AppError, type FieldError, validationFailed } from '../errors.ts';
import { noneMatch, preconditionOf } from '../http/etag.ts';
import type { IdempotencyStore } from '../idempotency/store.ts';
import { metadataPatchErrors } from '../rules.ts';
import { CONTENT_MAX_BYTES, contentBytes, messageErrors } from './rules.ts';
import type { MessageService } from './service.ts';

type MessageHandlers = Pick<
  Handlers,
  'appendMessages' | 'listMessages' | 'getMessage' | 'updateMessage' | 'appendMessageText' | 'deleteMessage'
>;

/** Translate a validated request into a service call, and its result into a reply. */
export function createMessageHandlers(
  messages: MessageService,
  idempotency: IdempotencyStore,
  /** Metadata after a merge must still satisfy the contract's Metadata schema. */
  metadataSchemaErrors: (metadata: Record<string, unknown>) => FieldError[],
  onReplay: () => void,
): MessageHandlers {
  return {
    async appendMessages({ path, body, headers, caller }) {
      body.messages.forEach((message, index) => {
        assertValid(messageErrors({ ...message, status: message.status ?? 'completed' }, `/messages/${index}`));
        const bytes = contentBytes(message.content);
        if (bytes > CONTENT_MAX_BYTES) {
          throw new AppError(
            'content_too_large',
            `A message's content must be at most ${CONTENT_MAX_BYTES} bytes as JSON (messages[${index}] has ${bytes})`,
          );
        }
      });
      const precondition = preconditionOf(headers['If-Match']);
      const owner = ownerScope(caller);
      const append = async (db?: Parameters<MessageService['append']>[4]) => {
        const { items, sessionEtag } = await messages.append(path.id, body.messages, precondition, owner, db);
        return { status: 201 as const, body: { items }, headers: { ETag: sessionEtag } };
      };
      const key = headers['Idempotency-Key'];
      if (key === undefined) return append();
      // The key is the caller's: the same key on another session (or operation) is another request.
      const request = { appendMessages: { session_id: path.id, if_match: headers['If-Match'] ?? null, body } };
      const { reply, replayed } = await idempotency.once(callerScope(caller), key, request, append);
      const appended = reply as Awaited<ReturnType<typeof append>>;
      if (!replayed) return appended;
      onReplay();
      return { ...appended, headers: { ...appended.headers, 'Idempotent-Replayed': 'true' } };
    },

    async listMessages({ path, query, caller }) {
      if (query.view === 'all' && query.leaf_id !== undefined) {
        const message = 'leaf_id lists one branch and view=all every message: give one or the other';
        throw validationFailed([{ in: 'query', pointer: '/leaf_id', message }]);
      }
      return { status: 200, body: await messages.list(path.id, query, ownerScope(caller)), headers: {} };
    },

    async getMessage({ path, headers, caller }) {
      const { message, etag } = await messages.get(path.id, path.message_id, ownerScope(caller));
      if (!noneMatch(headers['If-None-Match'], etag)) return { status: 304, headers: { ETag: etag } };
      return { status: 200, body: message, headers: { ETag: etag } };
    },

    async updateMessage({ path, body, headers, caller }) {
      // Even keys the patch removes must be storable text (the merged result is checked later).
      assertValid(metadataPatchErrors(body.metadata));
      const checkResult = (message: Schemas['Message']) =>
        assertValid([...metadataSchemaErrors(message.metadata), ...messageErrors(message)]);
      const { message, etag } = await messages.update(
        path.id,
        path.message_id,
        body,
        preconditionOf(headers['If-Match']),
        ownerScope(caller),
        checkResult,
      );
      return { status: 200, body: message, headers: { ETag: etag } };
    },

    async appendMessageText({ path, body, headers, caller }) {
      const { reply, etag } = await messages.appendText(
        path.id,
        path.message_id,
        body.text,
        preconditionOf(headers['If-Match']),
        ownerScope(caller),
      );
      return { status: 200, body: reply, headers: { ETag: etag } };
    },

    async deleteMessage({ path, headers, caller }) {
      await messages.delete(path.id, path.message_id, preconditionOf(headers['If-Match']), ownerScope(caller));
      return { status: 204, headers: {} };
    },
  };
}

function assertValid(errors: FieldError[]): void {
  if (errors.length) throw validationFailed(errors);
}
