/**
 * Rules that sessions and messages share and that JSON Schema cannot state (openapi.yaml declares
 * the rest): metadata's size and depth, strings PostgreSQL can store, JSON Merge Patch.
 */
import type { FieldError } from './errors.ts';

/** Metadata limits that the contract describes in prose (JSON Schema has no words for them). */
export const METADATA_MAX_BYTES = 8 * 1024;
export const METADATA_MAX_DEPTH = 5;

type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Size (compact UTF-8 JSON), depth (the object itself is depth 1) and strings PostgreSQL cannot
 * store (NUL, unpaired surrogates) or numbers JSON cannot carry back.
 */
export function metadataErrors(metadata: JsonObject, pointer = '/metadata'): FieldError[] {
  const content = jsonValueErrors(metadata, pointer, METADATA_MAX_DEPTH, 'metadata');
  // Only measure what is known to be shallow (JSON.stringify recurses).
  if (content.length) return content;
  const bytes = Buffer.byteLength(JSON.stringify(metadata), 'utf8');
  if (bytes <= METADATA_MAX_BYTES) return [];
  return [{ in: 'body', pointer, message: `metadata must be at most ${METADATA_MAX_BYTES} bytes as JSON (it is ${bytes})` }];
}

/**
 * What a merge patch of metadata may hold: storable strings, finite numbers, and no object
 * deeper than metadata itself may be (the merged result is checked in full afterwards).
 */
export function metadataPatchErrors(patch: unknown, pointer = '/metadata'): FieldError[] {
  return jsonValueErrors(patch, pointer, METADATA_MAX_DEPTH, 'metadata');
}

/**
 * Strings PostgreSQL cannot store, numbers JSON cannot carry, nesting beyond `maxDepth` (not
 * walked, so no input can make this recurse deeply). `what` names the value in messages.
 */
export function jsonValueErrors(root: unknown, rootPointer: string, maxDepth: number, what: string): FieldError[] {
  const errors: FieldError[] = [];
  const fail = (at: string, message: string) => errors.push({ in: 'body', pointer: at, message });
  const walk = (value: unknown, at: string, depth: number): void => {
    const name = (at.split('/').at(-1) ?? '').replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof value === 'string') {
      if (!isStorable(value)) fail(at, `${name} must not contain NUL characters or unpaired surrogates`);
      return;
    }
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) fail(at, `${name} must be a finite number`);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    if (depth > maxDepth) {
      fail(at, `${what} must be nested at most ${maxDepth} levels deep`);
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      const childAt = `${at}/${escapePointer(key)}`;
      if (!Array.isArray(value) && !isStorable(key)) {
        fail(childAt, 'keys must not contain NUL characters or unpaired surrogates');
      }
      walk(child, childAt, depth + 1);
    }
  };
  walk(root, rootPointer, 1);
  return errors;
}

export function isStorable(text: string): boolean {
  return !text.includes('\0') && text.isWellFormed();
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** JSON Merge Patch (RFC 7396): objects merge key by key, recursively; `null` removes a key. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  // A Map, then Object.fromEntries: a "__proto__" key stays an ordinary key.
  const merged = new Map(Object.entries(isJsonObject(target) ? target : {}));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else merged.set(key, mergePatch(merged.get(key), value));
  }
  return Object.fromEntries(merged);
}
