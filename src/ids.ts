import { randomUUID } from 'node:crypto';

/**
 * A UUID version 7 (RFC 9562): the first 48 bits are the Unix time in milliseconds, the rest
 * random (74 bits, from a v4 UUID whose version nibble is replaced). Ids made close in time sit
 * close together in a B-tree index, so inserting one rewrites a page that is already dirty
 * instead of a random one (each first touch of a page after a checkpoint writes all 8 KB of it
 * to the WAL).
 */
export function uuidv7(now = Date.now()): string {
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}
