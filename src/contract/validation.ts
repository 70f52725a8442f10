import type { ErrorObject } from 'ajv';
import { type AjvCustomizer, ValidationContext } from 'openapi-backend';
import type { FieldError } from '../errors.ts';
import { createAjv } from './ajv.ts';

/**
 * openapi-backend compiles one validator per operation; these options make them speak 2020-12,
 * coerce query/path strings (a single value becomes a one-item array where the contract wants
 * an array) and fill in the parameter defaults the contract declares. It asks for a fresh Ajv
 * each time; one per kind of validator is enough and saves building (and adding formats to)
 * a dozen instances at start-up.
 */
export function createAjvCustomizer(): AjvCustomizer {
  const byContext = new Map<ValidationContext, ReturnType<AjvCustomizer>>();
  return (_original, options, context) => {
    let ajv = byContext.get(context);
    if (!ajv) {
      const isParams = context === ValidationContext.Params;
      ajv = createAjv({ ...options, coerceTypes: isParams ? 'array' : false, useDefaults: isParams }) as unknown as ReturnType<AjvCustomizer>;
      byContext.set(context, ajv);
    }
    return ajv;
  };
}

const locations: Record<string, FieldError['in']> = {
  requestBody: 'body',
  query: 'query',
  path: 'path',
  header: 'header',
};

/**
 * Turns ajv's errors into `errors[]` entries that name the field and say what is wrong: one entry
 * per invalid input (the first rule it breaks), as the contract promises.
 */
export function toFieldErrors(errors: ErrorObject[], readOnlyFields: ReadonlySet<string>): FieldError[] {
  const seen = new Map<string, FieldError>();
  // A oneOf/anyOf that says what it means (x-message) speaks for its branches' errors.
  const explained = errors
    .filter((error) => (error.keyword === 'oneOf' || error.keyword === 'anyOf') && typeof error.parentSchema?.['x-message'] === 'string')
    .map((error) => `${error.schemaPath}/`);
  for (const error of errors) {
    if (error.keyword === 'propertyNames') continue; // its inner error says more
    if (explained.some((prefix) => error.schemaPath.startsWith(prefix))) continue;
    const field = locate(error);
    if (!field) continue;
    const message = `${field.name} ${describe(error, field, readOnlyFields)}`;
    const where = `${field.in} ${field.pointer}`;
    if (!seen.has(where)) seen.set(where, { in: field.in, pointer: field.pointer, message });
  }
  return [...seen.values()];
}

type Located = { in: FieldError['in']; pointer: string; name: string };

function locate(error: ErrorObject): Located | undefined {
  const segments = error.instancePath.split('/').slice(1);
  const params = error.params as Record<string, unknown>;
  let isKey = false; // the error is about a key of an object, not its value
  if (error.keyword === 'required') segments.push(escape(String(params.missingProperty)));
  if (error.keyword === 'additionalProperties') segments.push(escape(String(params.additionalProperty)));
  if (error.keyword === 'discriminator') segments.push(escape(String(params.tag)));
  if (error.propertyName !== undefined) {
    segments.push(escape(error.propertyName));
    isKey = true;
  }
  const [root, ...rest] = segments;
  const where = locations[root ?? ''];
  if (!where) return undefined;
  const pointer = rest.length ? `/${rest.join('/')}` : '';
  const last = rest.at(-1);
  const parent = rest.at(-2);
  // An array item is named after its array: status[0], not 0.
  const name =
    last === undefined ? 'the request body' : /^\d+$/.test(last) && parent ? `${unescape(parent)}[${last}]` : unescape(last);
  return { in: where, pointer, name: isKey ? `key ${JSON.stringify(name)}` : name };
}

function describe(error: ErrorObject, field: Located, readOnlyFields: ReadonlySet<string>): string {
  const params = error.params as Record<string, unknown>;
  const schema = error.parentSchema as Record<string, unknown> | undefined;
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      if (field.in !== 'body') return 'is not a known parameter';
      return readOnlyFields.has(field.name) ? 'is read-only' : 'is not a known field';
    case 'type':
      return `must be ${String(params.type).split(',').join(' or ')}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters`;
    case 'maxLength':
      return `must be at most ${params.limit} characters`;
    case 'pattern':
      return typeof schema?.['x-pattern-message'] === 'string'
        ? schema['x-pattern-message']
        : `must match the pattern ${params.pattern}`;
    case 'enum':
      return `must be one of: ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'format':
      return `must be a valid ${params.format}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${params.comparison} ${params.limit}`;
    case 'maxProperties':
      return `must have at most ${params.limit} keys`;
    case 'minProperties':
      return field.pointer === '' ? `must contain at least ${params.limit} field` : `must have at least ${params.limit} keys`;
    case 'minItems':
      return `must have at least ${params.limit} items`;
    case 'maxItems':
      return `must have at most ${params.limit} items`;
    case 'oneOf':
    case 'anyOf':
      return typeof schema?.['x-message'] === 'string' ? schema['x-message'] : (error.message ?? 'is invalid');
    case 'discriminator': {
      const tags = Object.keys((schema?.['x-mapping'] as object | undefined) ?? {});
      if (params.tagValue === undefined) return 'is required';
      return tags.length ? `must be one of: ${tags.join(', ')}` : 'is not a known type';
    }
    default:
      return error.message ?? 'is invalid';
  }
}

function escape(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function unescape(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

/**
 * A validator for one body field against a schema of the contract, for values the server
 * computes from the request (e.g. metadata after a merge patch), reported like request errors.
 */
export function bodyFieldValidator(schema: object, field: string, readOnlyFields: ReadonlySet<string> = new Set()) {
  const validate = createAjv().compile({
    type: 'object',
    properties: { requestBody: { type: 'object', properties: { [field]: schema } } },
  });
  return (value: unknown): FieldError[] =>
    validate({ requestBody: { [field]: value } }) ? [] : toFieldErrors(validate.errors ?? [], readOnlyFields);
}
