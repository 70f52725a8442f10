/** The floor's list cursor: the bare keyset position (created_at in epoch ms, id), unsigned. */
export function floorCursor(createdAtMs: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAtMs, id])).toString('base64url');
}

export function parseFloorCursor(cursor: string): [number, string] {
  return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [number, string];
}
