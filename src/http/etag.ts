/**
 * Entity tags of sessions and messages: `"<version>"`, where the version is a counter the database bumps on
 * every write (sql/), so two writes in the same millisecond still change it.
 */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** What an If-Match header allows: any existing session, or only these versions. */
export type Precondition = { any: true } | { any: false; versions: number[] };

type EntityTag = { weak: boolean; opaque: string };

function parseEntityTags(header: string): EntityTag[] | '*' {
  if (header.trim() === '*') return '*';
  return [...header.matchAll(/(W\/)?"([^"]*)"/g)].map(([, weak, opaque]) => ({ weak: Boolean(weak), opaque: opaque! }));
}

/** If-Match uses the strong comparison: a weak tag never matches. */
export function preconditionOf(ifMatch: string | undefined): Precondition | undefined {
  if (ifMatch === undefined) return undefined;
  const tags = parseEntityTags(ifMatch);
  if (tags === '*') return { any: true };
  const versions = tags.filter((tag) => !tag.weak && /^\d{1,9}$/.test(tag.opaque)).map((tag) => Number(tag.opaque));
  return { any: false, versions };
}

export function satisfies(precondition: Precondition | undefined, version: number): boolean {
  return !precondition || precondition.any || precondition.versions.includes(version);
}

/** If-None-Match uses the weak comparison. */
export function noneMatch(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return true;
  const tags = parseEntityTags(ifNoneMatch);
  if (tags === '*') return false;
  return !tags.some((tag) => `"${tag.opaque}"` === etag);
}
