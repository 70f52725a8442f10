/**
 * The docs explain every problem `type` the server can answer with, and nothing it cannot:
 * the kinds of src/errors.ts (named as src/http/problems.ts names them) and the /problems/...
 * literals anywhere in src/, against the table in openapi.yaml's description.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { spec } from './support/contract.ts';

const src = new URL('../src/', import.meta.url).pathname;
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );

const errorKinds = /export type ErrorKind =([^;]+);/.exec(readFileSync(join(src, 'errors.ts'), 'utf8'))![1]!;
const kinds = [...errorKinds.matchAll(/'([a-z_]+)'/g)].map((match) => match[1]!);
const fromKinds = kinds.map((kind) => `/problems/${kind === 'route_not_found' ? 'not-found' : kind.replaceAll('_', '-')}`);
const literals = files(src).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/['"`](\/problems\/[a-z-]+)['"`]/g)].map((match) => match[1]!));
const emitted = [...new Set([...fromKinds, ...literals])].sort();
const documented = [...new Set([...(spec.info.description ?? '').matchAll(/^\s*\| `(\/problems\/[a-z-]+)` \|/gm)].map((match) => match[1]!))].sort();

it('every problem type the server answers with is explained in the API description, and only those', () => {
  expect(kinds.length).toBeGreaterThan(10);
  expect(documented).toEqual(emitted);
});
