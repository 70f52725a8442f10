import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Options } from 'ajv';

// ajv-formats is CommonJS: under NodeNext its default export is the module object.
const addFormats = addFormatsModule.default;

/**
 * JSON Schema 2020-12 (what OpenAPI 3.1 speaks), every error reported, formats checked.
 * `verbose` keeps the failing schema on each error, so messages can use its `x-pattern-message`.
 */
export function createAjv(options: Options = {}): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, verbose: true, ...options });
  addFormats(ajv);
  return ajv;
}
