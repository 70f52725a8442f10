/**
 * A contract change that breaks a client call is a compile error for the client. The client code
 * in tests/fixtures/sdk-usage.ts is compiled (TypeScript's API, strict) against types that
 * openapi-typescript generates from openapi.yaml as it is, then from copies altered the way a
 * careless change would alter it.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url).pathname;
// Inside the project, so that `openapi-fetch` resolves from its node_modules.
const workspace = join(root, 'test-output', `sdk-compile-${process.pid}`);
const contract = () => parse(readFileSync(join(root, 'openapi.yaml'), 'utf8'));

afterAll(() => rmSync(workspace, { recursive: true, force: true }));

/** Generates the types from `spec` and compiles the fixture against them; returns the errors. */
async function compileAgainst(name: string, spec: object): Promise<string[]> {
  const dir = join(workspace, name);
  mkdirSync(join(dir, 'generated'), { recursive: true });
  mkdirSync(join(dir, 'tests', 'fixtures'), { recursive: true });
  writeFileSync(join(dir, 'generated', 'openapi.ts'), astToString(await openapiTS(spec as never)));
  cpSync(join(root, 'tests', 'fixtures', 'sdk-usage.ts'), join(dir, 'tests', 'fixtures', 'sdk-usage.ts'));
  const program = ts.createProgram([join(dir, 'tests', 'fixtures', 'sdk-usage.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
}

describe('generated client types follow the contract', () => {
  it('the client code compiles against the contract as it is', async () => {
    expect(await compileAgainst('as-is', contract())).toEqual([]);
  }, 60_000);

  it('a new required request field is a compile error at the call that does not send it', async () => {
    const spec = contract();
    const create = spec.components.schemas.SessionCreate;
    create.properties.tenant_id = { type: 'string' };
    create.required = ['tenant_id'];
    const errors = await compileAgainst('new-required-field', spec);
    expect(errors.join('\n')).toMatch(/Property 'tenant_id' is missing/);
  }, 60_000);

  it('removing an operation (DELETE /sessions/{id}) is a compile error at the call', async () => {
    const spec = contract();
    delete spec.paths['/sessions/{id}'].delete;
    const errors = await compileAgainst('removed-operation', spec);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(/\/sessions\/\{id\}/);
  }, 60_000);

  it('narrowing a parameter type (limit becomes a string) is a compile error', async () => {
    const spec = contract();
    const limit = spec.paths['/sessions'].get.parameters.find((parameter: { name?: string }) => parameter.name === 'limit');
    limit.schema = { type: 'string', enum: ['small', 'large'] };
    const errors = await compileAgainst('narrowed-parameter', spec);
    expect(errors.join('\n')).toMatch(/Type 'number' is not assignable to type '"small" \| "large"/);
  }, 60_000);

  it('a response field the client reads, once removed, is a compile error', async () => {
    const spec = contract();
    const session = spec.components.schemas.Session;
    delete session.properties.title;
    session.required = session.required.filter((name: string) => name !== 'title');
    const errors = await compileAgainst('removed-response-field', spec);
    expect(errors.join('\n')).toMatch(/Property 'title' does not exist/);
  }, 60_000);
});
