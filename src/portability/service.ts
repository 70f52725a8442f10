/**
 * Whole-session operations: fork (a branch copied into a new session), export (the session
 * streamed out, JSON Lines or Markdown) and import (a JSON Lines document into a new session).
 * Messages are created only through the messages service's append, so whatever it maintains for
 * them is maintained for these copies too.
 */
import { PassThrough, type Readable } from 'node:stream';
import { type CommonQueryMethods, type DatabasePool, sql } from 'slonik';
import type { Schemas } from '../contract/types.ts';
import { type Retry, retrying } from '../db/retry.ts';
import { AppError, type FieldError, validationFailed } from '../errors.ts';
import type { MessageService } from '../messages/service.ts';
import { touched, type SessionService, type SessionWithEtag } from '../sessions/service.ts';
import type { ImportDocument } from './import.ts';
import { markdownHeader, markdownMessage } from './markdown.ts';

type Message = Schemas['Message'];
type MessageCreate = Schemas['MessageCreate'];
/** A message to append, with its parent named (import, fork): null starts a new root. */
export type MessageToAppend = MessageCreate & { parent_id?: string | null };

/** Messages per append (the API's batch limit) and per page read while exporting or forking. */
export const BATCH = 100;

export type ExportFormat = 'jsonl' | 'markdown';
export type Export = { session: Schemas['Session']; body: Readable };

type Options = {
  sessions: SessionService;
  messages: MessageService;
  /** The contract's Metadata schema and the rules beyond it: a fork's metadata must still pass them. */
  checkMetadata: (metadata: Record<string, unknown>) => FieldError[];
};

/** The reader went away (or the stream was destroyed): stop reading, roll back, free the connection. */
class ExportAborted extends Error {}

export function createPortabilityService(pool: DatabasePool, retry: Retry, { sessions, messages, checkMetadata }: Options) {
  const writes = retrying(pool, retry, false);

  /** Appends in batches; answers the new ids in the order given. */
  async function appendAll(db: CommonQueryMethods, sessionId: string, batch: MessageToAppend[]): Promise<string[]> {
    const { items } = await messages.append(sessionId, batch, undefined, undefined, db);
    return items.map((item) => item.id);
  }

  return {
    /**
     * A copy of the branch from the root to `messageId` (default: the current leaf) in a new
     * session of the same user, in one transaction (`db`, when it must commit with an
     * idempotency key; else one of its own).
     */
    async fork(
      sessionId: string,
      request: Schemas['ForkRequest'],
      owner: string | undefined,
      db?: CommonQueryMethods,
    ): Promise<SessionWithEtag> {
      const run = async (transaction: CommonQueryMethods) => {
        const { session: source } = await sessions.get(sessionId, owner, transaction);
        const leaf = request.message_id ?? source.current_message_id;
        const seqs = leaf === null ? [] : await messages.branchSeqs(transaction, sessionId, leaf);
        if (seqs === undefined) {
          const message = `message_id ${leaf} is not a message of session ${sessionId}`;
          throw validationFailed([{ in: 'body', pointer: '/message_id', message }]);
        }
        const metadata = { ...source.metadata, forked_from: { session_id: sessionId, message_id: leaf } };
        assertRoomFor(metadata, source.metadata, checkMetadata);
        const title = request.title !== undefined ? request.title : source.title;
        const { session: fork } = await sessions.create({ user_id: source.user_id, title, metadata }, transaction);
        for (let start = 0; start < seqs.length; start += BATCH) {
          const page = await messages.pageInSeqOrder(transaction, sessionId, 0, BATCH, seqs.slice(start, start + BATCH));
          await appendAll(transaction, fork.id, page.map(copyOf));
        }
        return sessions.get(fork.id, undefined, transaction);
      };
      return db ? run(db) : writes.transaction(run);
    },

    /**
     * Streams the session out of one REPEATABLE READ, READ ONLY transaction: every page reads
     * the snapshot the first statement saw, so appends committed meanwhile are in none of it.
     * Pages are keyset range scans written as they arrive, waiting while the reader is behind
     * (the socket's backpressure), so memory stays one page whatever the session's length. It
     * answers once the session is read (a missing one is still a plain 404); a reader that goes
     * away ends the transaction and frees its connection.
     */
    async export(sessionId: string, format: ExportFormat, owner: string | undefined): Promise<Export> {
      const body = new PassThrough();
      let answered = false;
      return new Promise<Export>((resolve, reject) => {
        pool
          .transaction(async (transaction) => {
            await transaction.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
            const { session } = await sessions.get(sessionId, owner, transaction);
            const write = writer(body);
            answered = true;
            resolve({ session, body });
            if (format === 'jsonl') {
              await write(`${JSON.stringify(session)}\n`);
              for (let after = 0; ; ) {
                const page = await messages.pageInSeqOrder(transaction, sessionId, after, BATCH);
                if (page.length === 0) break;
                await write(page.map((message) => `${JSON.stringify(message)}\n`).join(''));
                after = page.at(-1)!.seq;
              }
            } else {
              await write(markdownHeader(session));
              const leaf = session.current_message_id;
              const seqs = leaf === null ? [] : ((await messages.branchSeqs(transaction, sessionId, leaf)) ?? []);
              for (let start = 0; start < seqs.length; start += BATCH) {
                const page = await messages.pageInSeqOrder(transaction, sessionId, 0, BATCH, seqs.slice(start, start + BATCH));
                await write(page.map(markdownMessage).join(''));
              }
            }
          })
          .then(
            () => body.end(),
            (error: unknown) => {
              if (!answered) reject(error);
              // Cut short: the response ends without its last chunk, never as a shorter, complete-looking file.
              else if (!(error instanceof ExportAborted)) body.destroy(error as Error);
            },
          );
      });
    },

    /**
     * A new session from a document `validateImport` accepted, in one transaction: the session
     * (active, so that it takes the messages), its messages in batches, then its status. New
     * messages follow the line before them unless they name another parent; a parent appended
     * in the batch being gathered (other than the message just before) is not known by its new
     * id yet, so the batch is sent first.
     */
    async import(document: ImportDocument, db?: CommonQueryMethods): Promise<SessionWithEtag> {
      const run = async (transaction: CommonQueryMethods) => {
        const { session: created } = await sessions.create({ ...document.session, status: 'active' }, transaction);
        const newIds = new Map<string, string>(); // the file's id → the new message's id
        let batch: { message: MessageToAppend; fileId: string | undefined }[] = [];
        const flush = async () => {
          if (batch.length === 0) return;
          const ids = await appendAll(transaction, created.id, batch.map((entry) => entry.message));
          batch.forEach((entry, index) => entry.fileId !== undefined && newIds.set(entry.fileId, ids[index]!));
          batch = [];
        };
        let previousFileId: string | undefined;
        let first = true;
        for (const { message, fileId, parent } of document.messages()) {
          let toAppend: MessageToAppend = message;
          if (first || parent === null) toAppend = { ...message, parent_id: null };
          else if (parent !== undefined && parent !== previousFileId) {
            if (!newIds.has(parent)) await flush(); // its parent is in this batch: send the batch first
            toAppend = { ...message, parent_id: newIds.get(parent)! };
          }
          batch.push({ message: toAppend, fileId });
          if (batch.length === BATCH) await flush();
          previousFileId = fileId;
          first = false;
        }
        await flush();
        if (document.status !== 'active') {
          await transaction.query(sql.unsafe`UPDATE chat_sessions SET status = ${document.status}, ${touched} WHERE id = ${created.id}`);
        }
        return sessions.get(created.id, undefined, transaction);
      };
      return db ? run(db) : writes.transaction(run);
    },
  };
}

export type PortabilityService = ReturnType<typeof createPortabilityService>;

/** A message as appended again: what the API returns of it, minus what the server sets. */
function copyOf(message: Message): MessageToAppend {
  return {
    role: message.role,
    content: message.content,
    status: message.status,
    model: message.model,
    finish_reason: message.finish_reason,
    usage: message.usage,
    metadata: message.metadata,
  };
}

/**
 * A fork's metadata is the source's plus forked_from: a source at the limits has no room for
 * it. The client cannot fix that in the fork request, only in the source: a 422 that says so.
 */
function assertRoomFor(
  metadata: Record<string, unknown>,
  source: Record<string, unknown>,
  checkMetadata: (metadata: Record<string, unknown>) => FieldError[],
): void {
  const problems = checkMetadata(metadata);
  if (problems.length === 0) return;
  const keys = Object.keys(source).length;
  throw new AppError(
    'metadata_full',
    `The source session's metadata (${keys} keys) leaves no room for forked_from: ${problems[0]!.message}; remove a key from the source first`,
  );
}

/** Writes that wait while the reader is behind, and stop when it has gone away. */
function writer(stream: PassThrough) {
  return async (chunk: string): Promise<void> => {
    if (stream.destroyed) throw new ExportAborted();
    if (stream.write(chunk)) return;
    await new Promise<void>((resolve, reject) => {
      const settle = (outcome: () => void) => () => {
        stream.off('drain', onDrain).off('close', onClose);
        outcome();
      };
      const onDrain = settle(resolve);
      const onClose = settle(() => reject(new ExportAborted()));
      stream.on('drain', onDrain).on('close', onClose);
    });
  };
}
