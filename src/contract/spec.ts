import { existsSync, readFileSync } from 'node:fs';
import type { OpenAPIV3_1 } from 'openapi-types';
import { projectRoot } from '../paths.ts';

export const specPath = new URL('openapi.yaml', projectRoot);
/** `make build` ships the contract as JSON beside the YAML: the same document, read in 1 ms instead of ~75. */
const builtSpecPath = new URL('openapi.json', projectRoot);

export type Spec = OpenAPIV3_1.Document;

/** The contract, as written. Everything the server routes and validates comes from here. */
export async function loadSpec(): Promise<Spec> {
  if (existsSync(builtSpecPath)) return JSON.parse(readFileSync(builtSpecPath, 'utf8')) as Spec;
  const { parse } = await import('yaml');
  return parse(readFileSync(specPath, 'utf8')) as Spec;
}

/** The path the API is served under: the first server's URL (`/api/v1`). */
export function basePathOf(spec: Spec): string {
  const url = spec.servers?.[0]?.url ?? '/';
  return new URL(url, 'http://placeholder').pathname.replace(/\/$/, '');
}
