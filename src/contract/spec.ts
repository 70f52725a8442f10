import { readFileSync } from 'node:fs';
import type { OpenAPIV3_1 } from 'openapi-types';
import { parse } from 'yaml';

export const specPath = new URL('../../openapi.yaml', import.meta.url);

export type Spec = OpenAPIV3_1.Document;

/** The contract, as written. Everything the server routes and validates comes from here. */
export function loadSpec(): Spec {
  return parse(readFileSync(specPath, 'utf8')) as Spec;
}

/** The path the API is served under: the first server's URL (`/api/v1`). */
export function basePathOf(spec: Spec): string {
  const url = spec.servers?.[0]?.url ?? '/';
  return new URL(url, 'http://placeholder').pathname.replace(/\/$/, '');
}
