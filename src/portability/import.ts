/**
 * Checking an import document before anything is written: line 1 a session, every other line a
 * message, each validated as if it were sent to the API — the contract's own schemas
 * (SessionCreate, MessageCreate, compiled from openapi.yaml) and the rules beyond them
 * (src/rules.ts, src/messages/rules.ts) — once the fields the server sets are set aside. The
 * document is read twice (checked, then appended), so memory holds its bytes and one batch, not
 * every message parsed.
 */
import type { Schemas } from '../contract/types.ts';
import { createAjv } from '../contract/ajv.ts';
import { forValidation, type Spec } from '../contract/spec.ts';
import { toFieldErrors } from '../contract/validation.ts';
import { AppError, type FieldError } from '../errors.ts';
import { metadataErrors } from '../rules.ts';
import { CONTENT_MAX_BYTES, contentBytes, messageErrors } from '../messages/rules.ts';
import { trimTitle } from '../sessions/rules.ts';
import { jsonLines, type Line } from './jsonl.ts';

type SessionCreate = Schemas['SessionCreate'] & { user_id: string };
type MessageCreate = Schemas['MessageCreate'];

/** What the server sets on a session (an export carries them): ignored, given anew. */
const SESSION_SET_BY_SERVER = ['id', 'is_active', 'message_count', 'last_message_at', 'created_at', 'updated_at', 'current_message_id'];
/** What the server sets on a message; `id` and `parent_id` are read as the tree's names, then given anew. */
const MESSAGE_SET_BY_SERVER = ['id', 'session_id', 'seq', 'parent_id', 'created_at', 'updated_at', 'sibling_count', 'sibling_index'];

export type ImportedMessage = {
  message: MessageCreate;
  /** The message's `id` in the file, which later lines' `parent_id` may name. */
  fileId: string | undefined;
  /** `parent_id` in the file: undefined (follows the line before), null (a new root) or an earlier line's id. */
  parent: string | null | undefined;
};

export type ImportDocument = {
  session: SessionCreate;
  status: Schemas['SessionStatus'];
  /** The messages, in the file's order (the document is parsed again as they are read). */
  messages: () => Generator<ImportedMessage>;
};

export type ImportRules = { maxMessages: number };

export function createImportValidator(spec: Spec, { maxMessages }: ImportRules) {
  const ajv = createAjv();
  ajv.addSchema(forValidation(spec) as object, 'openapi');
  const asBody = (name: string) =>
    ajv.compile({ type: 'object', properties: { requestBody: { $ref: `openapi#/components/schemas/${name}` } } });
  const sessionSchema = asBody('SessionCreate');
  const messageSchema = asBody('MessageCreate');

  function schemaErrors(validate: typeof sessionSchema, value: unknown): FieldError[] {
    return validate({ requestBody: value }) ? [] : toFieldErrors(validate.errors ?? [], new Set());
  }

  function sessionOf({ line, value }: Line, owner: string | undefined): { session: SessionCreate; status: Schemas['SessionStatus'] } {
    const fields = without(value, SESSION_SET_BY_SERVER);
    trimTitle(fields);
    // Under a user token the session is the caller's, whatever the file says.
    if (owner !== undefined) fields.user_id = owner;
    const errors = schemaErrors(sessionSchema, fields);
    if (errors.length === 0 && fields.user_id === undefined) {
      errors.push({ in: 'body', pointer: '/user_id', message: 'user_id is required (the session line must name its user)' });
    }
    if (errors.length === 0 && fields.metadata !== undefined) errors.push(...metadataErrors(fields.metadata as Record<string, unknown>));
    if (errors.length) throw badLine(line, errors);
    const session = fields as SessionCreate;
    return { session, status: session.status ?? 'active' };
  }

  function messageOf({ line, value }: Line, earlier: Set<string> | undefined): ImportedMessage {
    const errors: FieldError[] = [];
    const { id, parent_id: parent } = value;
    if (id !== undefined && typeof id !== 'string') errors.push({ in: 'body', pointer: '/id', message: 'id must be a string' });
    if (parent !== undefined && parent !== null && typeof parent !== 'string') {
      errors.push({ in: 'body', pointer: '/parent_id', message: 'parent_id must be a string or null' });
    }
    const fields = without(value, MESSAGE_SET_BY_SERVER);
    errors.push(...schemaErrors(messageSchema, fields));
    if (errors.length === 0) {
      const message = fields as MessageCreate;
      errors.push(...messageErrors({ ...message, status: message.status ?? 'completed' }));
    }
    if (errors.length === 0 && earlier) {
      if (typeof parent === 'string' && !earlier.has(parent)) {
        const message = `parent_id ${parent} names no earlier line's id (a parent must come before its children)`;
        errors.push({ in: 'body', pointer: '/parent_id', message });
      }
      if (typeof id === 'string' && earlier.has(id)) {
        errors.push({ in: 'body', pointer: '/id', message: `id ${id} is the id of an earlier line too` });
      }
    }
    if (errors.length) throw badLine(line, errors);
    const message = fields as MessageCreate;
    const bytes = contentBytes(message.content);
    if (bytes > CONTENT_MAX_BYTES) {
      const detail = `line ${line}: a message's content must be at most ${CONTENT_MAX_BYTES} bytes as JSON (it has ${bytes})`;
      throw new AppError('content_too_large', detail, { errors: [{ in: 'body', line, pointer: '/content', message: detail }] });
    }
    return { message, fileId: id as string | undefined, parent: parent as string | null | undefined };
  }

  /**
   * Checks the whole document (nothing is written yet); a bad line is a 400 naming it, more
   * messages than a session may hold a 409. `owner` is the caller's user under a user token.
   */
  return function validateImport(document: Buffer, owner: string | undefined): ImportDocument {
    const lines = jsonLines(document);
    const first = lines.next();
    if (first.done) {
      const message = 'line 1 must be the session (a JSON Lines document as GET /sessions/{id}/export writes it)';
      throw new AppError('validation_failed', message, { errors: [{ in: 'body', line: 1, pointer: '', message }] });
    }
    const { session, status } = sessionOf(first.value, owner);
    const ids = new Set<string>();
    let count = 0;
    for (const line of lines) {
      const { fileId } = messageOf(line, ids);
      if (fileId !== undefined) ids.add(fileId);
      if (++count > maxMessages) {
        const detail = `line ${line.line}: a session may hold at most ${maxMessages} messages (MAX_MESSAGES_PER_SESSION)`;
        throw new AppError('session_full', detail);
      }
    }
    return {
      session,
      status,
      *messages() {
        const again = jsonLines(document);
        again.next(); // the session
        for (const line of again) yield messageOf(line, undefined);
      },
    };
  };
}

export type ValidateImport = ReturnType<typeof createImportValidator>;

function without(value: Record<string, unknown>, names: string[]): Record<string, unknown> {
  const rest = { ...value };
  for (const name of names) delete rest[name];
  return rest;
}

/** A 400 naming the line; each error's pointer is into that line's JSON. */
function badLine(line: number, errors: FieldError[]): AppError {
  const located = errors.map((error) => ({ ...error, line }));
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new AppError('validation_failed', `line ${line}: ${errors[0]!.message}${more}`, { errors: located });
}
