import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Options } from 'ajv';

// ajv-formats is CommonJS: under NodeNext its default export is the module object.
const addFormats = addFormatsModule.default;

/**
 * JSON Schema 2020-12 (what OpenAPI 3.1 speaks), every error reported, formats checked.
 * `verbose` keeps the failing schema on each error, so messages can use its `x-pattern-message`.
 * `discriminator` validates a `oneOf` by its tag (OpenAPI's discriminator): a bad content part is
 * reported by its own fields, not as "must match exactly one schema".
 * The contract's schemas are not checked against the 2020-12 meta-schema here (that costs
 * 20–40 ms of start-up per Ajv instance): tests/contract-schemas.test.ts and `make lint` do it.
 */
export function createAjv(options: Options = {}): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, verbose: true, validateSchema: false, ...options, discriminator: true });
  addFormats(ajv);
  return ajv;
}
