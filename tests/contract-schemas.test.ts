import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { contractValidation } from '../src/contract/dispatch.ts';
import { spec } from './support/contract.ts';

/**
 * The server compiles the contract's schemas without checking them against the JSON Schema
 * 2020-12 meta-schema (src/contract/ajv.ts: it would cost start-up time on every start); the
 * check lives here, once per test run.
 */
const metaSchema = new Ajv2020({ strict: false });
const problemsOf = (schema: unknown) => (metaSchema.validateSchema(schema as object) ? [] : metaSchema.errors);

function schemasOfTheContract(): Array<[string, unknown]> {
  const found: Array<[string, unknown]> = Object.entries(spec.components?.schemas ?? {}).map(([name, schema]) => [`#/components/schemas/${name}`, schema]);
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const [method, operation] of Object.entries(item ?? {})) {
      if (typeof operation !== 'object' || operation === null || !('responses' in operation)) continue;
      for (const parameter of (operation.parameters ?? []) as Array<{ name?: string; schema?: unknown }>) {
        if (parameter.schema) found.push([`${method.toUpperCase()} ${path} parameter ${parameter.name}`, parameter.schema]);
      }
    }
  }
  return found;
}

describe('the contract’s schemas', () => {
  it.each(schemasOfTheContract())('%s is valid JSON Schema 2020-12', (_where, schema) => {
    expect(problemsOf(schema)).toEqual([]);
  });

  it('the check rejects a schema that is not valid JSON Schema', () => {
    expect(problemsOf({ type: 'strin', maxLength: -1 })).not.toEqual([]);
  });
});

describe('the server’s request validators', () => {
  // The server compiles an operation's validators on its first request (start-up would pay ~120
  // ms for all of them): a schema Ajv cannot compile must fail here, not on a client's request.
  it('every operation’s validators compile with the server’s Ajv', async () => {
    const api = await contractValidation(spec);
    const operations = api.getOperations();
    expect(operations.length).toBeGreaterThan(0);
    for (const operation of operations) {
      const validators = api.validator.getRequestValidatorsForOperation(operation.operationId!);
      expect(validators, operation.operationId).not.toHaveLength(0);
    }
  });
});
