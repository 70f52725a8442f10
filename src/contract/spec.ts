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

/**
 * The contract as Ajv validates it. Ajv's `discriminator` picks the `oneOf` branch by each
 * branch's `const` tag (so errors name the bad part's fields), but refuses the `mapping` that
 * code generators read: in this copy only, it moves to `x-mapping` (where error messages find
 * the tags a discriminator allows).
 */
export function forValidation(spec: Spec): Spec {
  const copy = structuredClone(spec);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      const discriminator = (node as { discriminator?: { mapping?: unknown } }).discriminator;
      if (discriminator && typeof discriminator === 'object' && discriminator.mapping) {
        (node as Record<string, unknown>)['x-mapping'] = discriminator.mapping;
        delete discriminator.mapping;
      }
      Object.values(node).forEach(visit);
    }
  };
  visit(copy);
  return copy;
}
