/**
 * The message rules JSON Schema cannot state; everything else is declared in openapi.yaml.
 */
import type { Schemas } from '../contract/types.ts';
import type { FieldError } from '../errors.ts';
import { jsonValueErrors, metadataErrors } from '../rules.ts';

type Content = Schemas['MessageContent'];

/** A message's content is at most 1 MiB as compact UTF-8 JSON (its number of parts is the contract's maxItems). */
export const CONTENT_MAX_BYTES = 1024 * 1024;
/** How deep a tool call's arguments may nest (PostgreSQL's jsonb and our walkers stay shallow). */
export const ARGUMENTS_MAX_DEPTH = 64;

/** Bytes of content as compact UTF-8 JSON: what the 1 MiB limit counts. */
export function contentBytes(content: Content): number {
  return Buffer.byteLength(JSON.stringify(content), 'utf8');
}

/**
 * How many bytes a streamed delta adds to the content's JSON: appended to a text part's string
 * (its escaped form without the quotes), or as a new `{"type":"text","text":…}` part (the caller
 * adds the comma before it when the content already has parts).
 */
export function textDeltaBytes(text: string): { toText: number; asPart: number } {
  const escaped = Buffer.byteLength(JSON.stringify(text), 'utf8');
  return { toText: escaped - 2, asPart: escaped + '{"type":"text","text":}'.length };
}

/**
 * What the contract describes in prose for a message as it will be stored: a completed message
 * has content; tool call arguments hold storable strings and finite numbers, nested at most 64
 * levels; a source's score is finite (1e400 parses to Infinity, which JSON stores as null);
 * metadata as a session's. `pointer` is where the message is in the request body.
 */
export function messageErrors(
  message: { content: Content; status: Schemas['MessageStatus']; metadata?: Schemas['Metadata'] },
  pointer = '',
): FieldError[] {
  const errors: FieldError[] = [];
  if (message.status === 'completed' && message.content.length === 0) {
    errors.push({ in: 'body', pointer: `${pointer}/content`, message: 'content must have at least 1 part when status is completed' });
  }
  message.content.forEach((part, index) => {
    if (part.type === 'tool_call') {
      errors.push(...jsonValueErrors(part.arguments, `${pointer}/content/${index}/arguments`, ARGUMENTS_MAX_DEPTH, 'arguments'));
    }
    if (part.type === 'source' && part.score !== undefined && !Number.isFinite(part.score)) {
      errors.push({ in: 'body', pointer: `${pointer}/content/${index}/score`, message: 'score must be a finite number' });
    }
  });
  if (message.metadata) errors.push(...metadataErrors(message.metadata, `${pointer}/metadata`));
  return errors;
}
