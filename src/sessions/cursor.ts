import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';

/** Where a keyset page resumes: the last row's sort value and id. */
export type CursorPosition = { value: string | number; id: string };

const SIGNATURE_BYTES = 16;

/**
 * Opaque, tamper-evident list cursors: base64url of an HMAC-SHA256 signature followed by the
 * position. Each cursor is bound to the sort and filters of the request that produced it
 * (their fingerprint is signed with the position), so it is useless with any others.
 */
export function createCursorCodec(secret: Buffer) {
  const sign = (payload: Buffer) => createHmac('sha256', secret).update(payload).digest().subarray(0, SIGNATURE_BYTES);

  return {
    encode(binding: string, position: CursorPosition): string {
      const payload = Buffer.from(JSON.stringify([fingerprint(binding), position.value, position.id]));
      return Buffer.concat([sign(payload), payload]).toString('base64url');
    },

    decode(token: string, binding: string): CursorPosition {
      const raw = Buffer.from(token, 'base64url');
      const signature = raw.subarray(0, SIGNATURE_BYTES);
      const payload = raw.subarray(SIGNATURE_BYTES);
      if (signature.length !== SIGNATURE_BYTES || !timingSafeEqual(signature, sign(payload))) {
        throw invalidCursor('cursor is not valid: use the next_cursor of a previous page unchanged');
      }
      const [boundTo, value, id] = JSON.parse(payload.toString('utf8')) as [string, string | number, string];
      if (boundTo !== fingerprint(binding)) {
        throw invalidCursor('cursor belongs to a different sort or filters: repeat them as they were, or drop the cursor');
      }
      return { value, id };
    },
  };
}

export type CursorCodec = ReturnType<typeof createCursorCodec>;

function fingerprint(binding: string): string {
  return hash('sha256', binding, 'base64url').slice(0, 12); // one-shot: no Hash object per page
}

function invalidCursor(message: string): AppError {
  return new AppError('invalid_cursor', message, { errors: [{ in: 'query', pointer: '/cursor', message }] });
}
