/**
 * Request generation for conformance fuzzing (tests/fuzz-contract.test.ts), derived from
 * openapi.yaml alone: valid requests from the schemas and their examples, and invalid ones that
 * break exactly one constraint of one input (type, length, pattern, enum, const, format, range,
 * required, additionalProperties, item and property counts, a oneOf's "exactly one") in a body,
 * query, path or header, at any depth of a body (inside arrays, objects and each branch of a
 * discriminated oneOf).
 */
import fc from 'fast-check';
import type { OpenAPIV3_1 } from 'openapi-types';
import { basePath, satisfiesSchema, spec } from './contract.ts';

export type Schema = OpenAPIV3_1.SchemaObject & {
  $ref?: string;
  items?: Schema;
  type?: string | string[];
  patternProperties?: Record<string, Schema>;
  propertyNames?: Schema;
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
};
export type Where = 'body' | 'query' | 'path' | 'header';
export type Parameter = { name: string; in: Where; required: boolean; schema: Schema; example?: unknown; style?: string };
export type Operation = {
  operationId: string;
  method: string;
  path: string;
  parameters: Parameter[];
  /** `schemaName`: the body schema's name in components/schemas, when it is a $ref. */
  body?: { required: boolean; mediaTypes: string[]; schema: Schema; schemaName?: string };
  responses: string[];
};

/** Follows local $refs (the contract has no recursive schemas). */
export function deref<T>(node: T): T {
  let current = node as { $ref?: string };
  while (current && typeof current === 'object' && typeof current.$ref === 'string') {
    const segments = current.$ref.replace(/^#\//, '').split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
    current = segments.reduce<any>((value, key) => value?.[key], spec) as { $ref?: string };
  }
  return current as T;
}

/** The name a `$ref` to components/schemas gives its schema. */
export const nameOf = (schema: Schema | undefined): string | undefined => schema?.$ref?.split('/').at(-1);

const flattened = new WeakMap<object, Schema>();
/** The schema behind a $ref, with its `allOf` folded in (the contract uses allOf to add keywords to a $ref). */
export function flatten(rawSchema: Schema): Schema {
  const schema = deref(rawSchema);
  if (!schema.allOf) return schema;
  let folded = flattened.get(schema);
  if (!folded) {
    const { allOf, ...rest } = schema;
    folded = Object.assign({}, ...allOf.map((part) => flatten(part)), rest) as Schema;
    flattened.set(schema, folded);
  }
  return folded;
}

/** A union (`oneOf`/`anyOf` of whole schemas, e.g. content parts told apart by a discriminator)… */
const unionOf = (schema: Schema): Schema[] | undefined => (!schema.properties ? (schema.oneOf ?? schema.anyOf) : undefined);
/** …or an object's own constraint on which of its properties it has ("exactly one of url and file_id"). */
const constraintBranchesOf = (schema: Schema): Schema[] | undefined =>
  schema.properties ? (schema.oneOf ?? schema.anyOf) : undefined;

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Every operation of the contract, with its parameters and body resolved. */
export const operations: Operation[] = Object.entries(spec.paths ?? {}).flatMap(([path, rawItem]) => {
  const item = deref(rawItem) as OpenAPIV3_1.PathItemObject;
  return methods.flatMap((method) => {
    const operation = item[method] as OpenAPIV3_1.OperationObject | undefined;
    if (!operation) return [];
    const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((raw) => {
      const parameter = deref(raw) as OpenAPIV3_1.ParameterObject;
      return {
        name: parameter.name,
        in: parameter.in as Where,
        required: parameter.required === true,
        schema: deref(parameter.schema) as Schema,
        example: parameter.example,
        style: parameter.style,
      };
    });
    const requestBody = operation.requestBody ? (deref(operation.requestBody) as OpenAPIV3_1.RequestBodyObject) : undefined;
    const mediaTypes = Object.keys(requestBody?.content ?? {});
    return [
      {
        operationId: operation.operationId!,
        method: method.toUpperCase(),
        path,
        parameters,
        body: requestBody
          ? {
              required: requestBody.required === true,
              mediaTypes,
              schema: deref(requestBody.content[mediaTypes[0]!]!.schema) as Schema,
              schemaName: nameOf(requestBody.content[mediaTypes[0]!]!.schema as Schema),
            }
          : undefined,
        responses: Object.keys(operation.responses ?? {}),
        // Counterexamples name the operation, not its whole description.
        [fc.toStringMethod]: () => `${method.toUpperCase()} ${path}`,
      },
    ];
  });
});

export const declaredMethods = (path: string) => operations.filter((o) => o.path === path).map((o) => o.method);

// ---------------------------------------------------------------------------------------------
// Valid values

const typesOf = (schema: Schema): string[] =>
  schema.type ? ([] as string[]).concat(schema.type) : schema.properties || schema.additionalProperties ? ['object'] : ['string'];

const codePoints = (text: string) => [...text].length;

/** Date-times RFC 3339 accepts (years 1–9999), as toISOString writes them. */
const dateTime = fc
  .date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
  .map((date) => date.toISOString());

/** JSON values safe to store anywhere: well-formed text without NUL, finite numbers, nested at most `depth` levels. */
function jsonValueOfDepth(depth: number): fc.Arbitrary<unknown> {
  const scalar = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
    fc.boolean(),
    fc.constant(null),
  );
  if (depth === 0) return scalar;
  const inner = jsonValueOfDepth(depth - 1);
  return fc.oneof(
    { weight: 4, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(inner, { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), inner, { maxKeys: 3 }) },
  );
}
/** Values of free-form metadata: with the metadata object itself at depth 1, at most depth 4. */
export const jsonValue = jsonValueOfDepth(2);

export type Options = {
  /** Keys of free-form objects (metadata), e.g. a small fixed set so merged patches stay small. */
  freeKeys?: fc.Arbitrary<string>;
  maxFreeKeys?: number;
  /**
   * Rules the contract states in prose, by schema name: each generated value of that schema is
   * passed through, to come out satisfying them (e.g. a completed message has a part).
   */
  refine?: Record<string, (value: any) => unknown>;
};

/** Values that satisfy a schema (and the rules around it: trimmed text, storable strings). */
export function valid(rawSchema: Schema, where: Where, options: Options = {}): fc.Arbitrary<unknown> {
  const schema = flatten(rawSchema);
  const examples = (schema.examples as unknown[] | undefined) ?? [];
  const generated = generatedValid(schema, where, options);
  const mixed = examples.length ? fc.oneof({ weight: 4, arbitrary: generated }, { weight: 1, arbitrary: fc.constantFrom(...examples) }) : generated;
  const refine = options.refine?.[nameOf(rawSchema) ?? ''];
  return refine ? mixed.map(refine) : mixed;
}

function generatedValid(schema: Schema, where: Where, options: Options): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.const !== undefined) return fc.constant(schema.const);
  // Each branch of a union in turn (each content part type).
  const union = unionOf(schema);
  if (union) return fc.oneof(...union.map((branch) => valid(branch, where, options)));
  return fc.oneof(...typesOf(schema).map((type) => validOfType(type, schema, where, options)));
}

function validOfType(type: string, schema: Schema, where: Where, options: Options): fc.Arbitrary<unknown> {
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000, noNaN: true, noDefaultInfinity: true });
    case 'string':
      // A header value is visible ASCII, spaces and tabs inside (RFC 9110 field-value), whatever the pattern allows.
      return where === 'header' ? validString(schema).filter((text) => /^[\x21-\x7E]([\t\x20-\x7E]*[\x21-\x7E])?$/.test(text)) : validString(schema);
    case 'array': {
      const items = valid(schema.items as Schema, where, options);
      return fc.array(items, { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
    }
    case 'object':
      return validObject(schema, where, options);
    default:
      throw new Error(`no generator for type ${type}`);
  }
}

/** (built once: fc.webUrl takes tens of milliseconds to build) */
const webUrl = fc.webUrl({ validSchemes: ['http', 'https'], withQueryParameters: true, withFragments: true });

/** fc.stringMatching builds a table of every character a class allows (~64k for [^\u0000]): once per pattern. */
const matchingArbitraries = new Map<string, fc.Arbitrary<string>>();
function matching(pattern: string): fc.Arbitrary<string> {
  if (!matchingArbitraries.has(pattern)) matchingArbitraries.set(pattern, fc.stringMatching(new RegExp(pattern)));
  return matchingArbitraries.get(pattern)!;
}

function validString(schema: Schema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 40, 40);
  if (schema.format === 'uuid') return fc.uuid();
  if (schema.format === 'date-time') return dateTime;
  if (schema.format === 'uri') {
    const pattern = schema.pattern ? new RegExp(schema.pattern) : undefined;
    return webUrl.filter((url) => url.length <= (schema.maxLength ?? Infinity) && (!pattern || pattern.test(url)));
  }
  const base = schema.pattern
    ? matching(schema.pattern).map((text) => (codePoints(text) > max ? [...text].slice(0, max).join('') : text))
    : fc.string({ minLength: min, maxLength: max });
  const pattern = schema.pattern ? new RegExp(schema.pattern) : undefined;
  // Text that still fits and matches (untrimmed titles too: TitleInput's pattern counts what trimming leaves).
  return base.filter((text) => codePoints(text) >= min && codePoints(text) <= max && (!pattern || pattern.test(text)));
}

function validObject(schema: Schema, where: Where, options: Options): fc.Arbitrary<Record<string, unknown>> {
  // "Exactly one of" / "at least one of" properties: each branch's required ones, and whatever
  // else the object may hold as long as the whole still satisfies the schema (its oneOf, its not).
  const branches = constraintBranchesOf(schema);
  if (branches) {
    const required = (schema.required ?? []) as string[];
    return fc
      .oneof(...branches.map((branch) => validPlainObject({ ...schema, required: [...required, ...((branch.required ?? []) as string[])] }, where, options)))
      .filter((value) => satisfiesSchema(schema, value));
  }
  return validPlainObject(schema, where, options);
}

function validPlainObject(schema: Schema, where: Where, options: Options): fc.Arbitrary<Record<string, unknown>> {
  const properties = Object.fromEntries(
    Object.entries(schema.properties ?? {}).map(([name, property]) => [name, valid(property as Schema, where, options)]),
  );
  const record = fc.record(properties, { requiredKeys: (schema.required ?? []) as string[] });
  const maxFree = Math.min(schema.maxProperties ?? 10, options.maxFreeKeys ?? 10);
  const keyNames = schema.propertyNames as Schema | undefined;
  const keys = options.freeKeys ?? (keyNames ? validString({ ...keyNames, type: 'string' }) : fc.string({ minLength: 1, maxLength: 20 }));
  const patternValue = schema.patternProperties ? Object.values(schema.patternProperties)[0] : undefined;
  const freeValue = patternValue ? valid(patternValue, where, options) : schema.additionalProperties === true ? jsonValue : undefined;
  const free = freeValue ? fc.dictionary(keys, freeValue, { maxKeys: maxFree }) : fc.constant({});
  return fc
    .tuple(record, free)
    .map(([declared, extra]) => ({ ...extra, ...declared }))
    .filter((object) => {
      const count = Object.keys(object).length;
      return count >= (schema.minProperties ?? 0) && count <= (schema.maxProperties ?? Infinity);
    });
}

// ---------------------------------------------------------------------------------------------
// Invalid values: each breaks exactly one keyword of the schema.

export type Violation = { keyword: string; value: unknown };

/** Strings inserted to break a pattern, tried in order; headers only take visible ASCII and space. */
const patternBreakers: Record<Where, string[]> = {
  body: ['\u0001', '\u007f', '#', ' ', '\u00e9', '!', '\u0000', '\ud800'],
  query: ['\u0001', '#', ' ', '\u00e9', '!', '*', '\u0000'],
  path: ['!', '*', 'g'],
  header: [' ', '#', '!', '"', ','],
};

/** Valid examples of a schema, to derive violations from (the same ones on every run). */
const sampled = new Map<string, unknown[]>();
export function examplesOf(rawSchema: Schema, where: Where): unknown[] {
  const schema = flatten(rawSchema);
  const key = `${where} ${JSON.stringify(schema)}`;
  if (!sampled.has(key)) sampled.set(key, fc.sample(valid(schema, where), { seed: 1, numRuns: 30 }));
  return sampled.get(key)!;
}
export const exampleOf = (rawSchema: Schema, where: Where): unknown => examplesOf(rawSchema, where)[0];

function insertAt1(text: string, insertion: string): string {
  const chars = [...text];
  return chars.length === 0 ? insertion : chars[0] + insertion + chars.slice(1).join('');
}

/**
 * The ways to break one keyword of this schema, each starting from a valid value. A value that
 * is a string on the wire (query, path, header) is given as the string to send.
 */
export function violations(rawSchema: Schema, where: Where): Violation[] {
  const schema = flatten(rawSchema);
  const types = typesOf(schema);
  const wire = where !== 'body';
  const out: Violation[] = [];
  const example = exampleOf(schema, where);

  if (schema.enum) out.push({ keyword: 'enum', value: 'not_one_of_them' });
  if (typeof schema.const === 'string') out.push({ keyword: 'const', value: `not_${schema.const}` });
  // type: a value of another JSON type (on the wire, text that does not parse as the type)
  if (!wire) {
    if (!types.includes('string')) out.push({ keyword: 'type', value: 'a string' });
    else if (!types.includes('integer') && !types.includes('number')) out.push({ keyword: 'type', value: 42 });
    if (!types.includes('object') && !types.includes('array')) out.push({ keyword: 'type', value: { nested: true } });
    if (!types.includes('boolean') && types.includes('string')) out.push({ keyword: 'type', value: true });
  } else if (types.includes('integer') || types.includes('number')) {
    out.push({ keyword: 'type', value: 'twelve' });
    if (types.includes('integer')) out.push({ keyword: 'type', value: '1.5' });
  } else if (types.includes('boolean')) {
    out.push({ keyword: 'type', value: 'maybe' });
  }
  if (types.includes('string') && !schema.enum && schema.const === undefined) {
    const text = typeof example === 'string' && example.length > 0 ? example : 'x';
    if (schema.format === 'uuid') out.push({ keyword: 'format', value: 'not-a-uuid' });
    if (schema.format === 'date-time') {
      out.push({ keyword: 'format', value: '2026-13-45T25:61:00Z' });
      out.push({ keyword: 'format', value: 'yesterday' });
    }
    if ((schema.minLength ?? 0) > 0) out.push({ keyword: 'minLength', value: [...text].slice(0, schema.minLength! - 1).join('') });
    if (schema.maxLength !== undefined && schema.format === undefined) {
      // One character too many, from a valid value that stays valid when padded in its middle.
      const long = examplesOf(schema, where)
        .filter((candidate): candidate is string => typeof candidate === 'string' && candidate.length > 0)
        .map((candidate) => insertAt1(candidate, 'x'.repeat(schema.maxLength! + 1 - codePoints(candidate))))
        .find((candidate) => !schema.pattern || new RegExp(schema.pattern).test(candidate));
      if (long !== undefined) out.push({ keyword: 'maxLength', value: long });
    }
    if (schema.pattern && schema.format === undefined) {
      const pattern = new RegExp(schema.pattern);
      const broken = patternBreakers[where]
        .map((insertion) => insertAt1(text, insertion))
        // (a header value loses its leading and trailing whitespace on the way)
        .find((candidate) => !pattern.test(candidate) && codePoints(candidate) <= (schema.maxLength ?? Infinity) && (where !== 'header' || candidate === candidate.trim()));
      if (broken !== undefined) out.push({ keyword: 'pattern', value: broken });
    }
  }
  if (types.includes('integer') || types.includes('number')) {
    if (schema.minimum !== undefined) out.push({ keyword: 'minimum', value: wire ? String(schema.minimum - 1) : schema.minimum - 1 });
    if (schema.maximum !== undefined) out.push({ keyword: 'maximum', value: wire ? String(schema.maximum + 1) : schema.maximum + 1 });
    if (types.includes('integer') && !wire) out.push({ keyword: 'type', value: 1.5 });
  }
  if (types.includes('array')) {
    const item = exampleOf(schema.items as Schema, where);
    if (schema.maxItems !== undefined) out.push({ keyword: 'maxItems', value: Array.from({ length: schema.maxItems + 1 }, () => item) });
    for (const itemViolation of violations(schema.items as Schema, where)) {
      out.push({ keyword: `items.${itemViolation.keyword}`, value: [itemViolation.value] });
    }
  }
  if (types.includes('object')) {
    const base = (example && typeof example === 'object' ? example : {}) as Record<string, unknown>;
    if (schema.additionalProperties === false) out.push({ keyword: 'additionalProperties', value: { ...base, not_in_the_contract: 1 } });
    if (schema.maxProperties !== undefined) {
      const many = Object.fromEntries(Array.from({ length: schema.maxProperties + 1 }, (_, i) => [`key_${i}`, 'v']));
      out.push({ keyword: 'maxProperties', value: many });
    }
    if ((schema.minProperties ?? 0) > 0) out.push({ keyword: 'minProperties', value: {} });
    const names = schema.propertyNames as Schema | undefined;
    if (names?.maxLength !== undefined) out.push({ keyword: 'propertyNames.maxLength', value: { ...base, ['k'.repeat(names.maxLength + 1)]: 'v' } });
    if ((names?.minLength ?? 0) > 0) out.push({ keyword: 'propertyNames.minLength', value: { ...base, '': 'v' } });
    if (schema.patternProperties) {
      const valueSchema = Object.values(schema.patternProperties)[0]!;
      for (const inner of violations(valueSchema, where)) {
        if (inner.keyword.startsWith('type')) continue; // every deepObject value is text on the wire
        out.push({ keyword: `patternProperties.${inner.keyword}`, value: { ...base, filter_key: inner.value } });
      }
    }
  }
  return out;
}

/** A violation somewhere inside a value: `pointer` (within the value) is what an error must name. */
export type NestedViolation = Violation & { pointer: string; /** the status it calls for, when not 400 */ status?: number };
/** A body violation: `property` is the top-level field it replaces ('' for the whole body). */
export type BodyViolation = NestedViolation & { property: string };
/**
 * Rules the contract states in prose (descriptions), broken: for a value of this schema (raw, so
 * its $ref name shows) found under this property name, whole values that break them.
 */
export type ProseViolations = (rawSchema: Schema, name: string | undefined) => NestedViolation[];

/**
 * Violations of a body schema: of the object itself, missing required fields, and of each
 * property at any depth (each given as the property's whole value, so the rest of the body can
 * stay a random valid one).
 */
export function bodyViolations(rawSchema: Schema, prose?: ProseViolations): BodyViolation[] {
  const schema = flatten(rawSchema);
  const out: BodyViolation[] = [];
  for (const violation of violations(schema, 'body')) out.push({ ...violation, pointer: '', property: '' }); // of the object itself
  for (const violation of prose?.(rawSchema, undefined) ?? []) out.push({ ...violation, property: '' });
  for (const name of (schema.required ?? []) as string[]) out.push({ keyword: 'required', value: undefined, pointer: `/${name}`, property: name });
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    for (const violation of nestedViolations(property as Schema, name, prose)) {
      out.push({ ...violation, pointer: `/${name}${violation.pointer}`, property: name });
    }
  }
  return out;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whole values of a schema that break one rule somewhere inside them, each built on a valid value. */
export function nestedViolations(rawSchema: Schema, name: string | undefined, prose?: ProseViolations, depth = 0): NestedViolation[] {
  const schema = flatten(rawSchema);
  const out: NestedViolation[] = [...(prose?.(rawSchema, name) ?? [])];
  if (depth > 8) return out;
  const union = unionOf(schema);
  if (union) {
    // Not one of the branches at all, then each branch broken in each of its own ways.
    out.push({ keyword: 'type', value: 'a string', pointer: '' });
    for (const branch of union) out.push(...nestedViolations(branch, name, prose, depth + 1));
    return out;
  }
  const types = typesOf(schema);
  // Item and property rules are broken below, where the pointer can name the item or property.
  out.push(...violations(schema, 'body').filter((violation) => !violation.keyword.startsWith('items.')).map((violation) => ({ ...violation, pointer: '' })));
  if (types.includes('array') && schema.items) {
    for (const inner of nestedViolations(schema.items, name, prose, depth + 1)) {
      out.push({ ...inner, keyword: `items.${inner.keyword}`, pointer: `/0${inner.pointer}`, value: [inner.value] });
    }
  }
  if (types.includes('object') && schema.properties) {
    const samples = examplesOf(schema, 'body').filter(isObject);
    // A valid value holding the property (in the branch of a oneOf that has it).
    const holding = (property: string): Record<string, unknown> => ({ ...(samples.find((sample) => property in sample) ?? samples[0] ?? {}) });
    for (const property of (schema.required ?? []) as string[]) {
      const { [property]: _, ...without } = holding(property);
      out.push({ keyword: 'required', value: without, pointer: `/${property}` });
    }
    for (const [property, propertySchema] of Object.entries(schema.properties)) {
      for (const inner of nestedViolations(propertySchema as Schema, property, prose, depth + 1)) {
        out.push({ ...inner, pointer: `/${property}${inner.pointer}`, value: { ...holding(property), [property]: inner.value } });
      }
    }
    const branches = constraintBranchesOf(schema);
    if (branches) {
      // None of the properties the branches name, and all of them: whichever the schema refuses.
      const always = (schema.required ?? []) as string[];
      const named = [...new Set(branches.flatMap((branch) => (branch.required ?? []) as string[]))].filter((key) => !always.includes(key));
      const base = samples[0] ?? {};
      const none = Object.fromEntries(Object.entries(base).filter(([key]) => !named.includes(key)));
      const all = { ...base, ...Object.fromEntries(named.map((key) => [key, holding(key)[key]])) };
      if (!satisfiesSchema(schema, none)) out.push({ keyword: `${schema.oneOf ? 'oneOf' : 'anyOf'}.none`, value: none, pointer: '' });
      if (!satisfiesSchema(schema, all)) out.push({ keyword: `${schema.oneOf ? 'oneOf' : 'anyOf'}.all`, value: all, pointer: '' });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests

export type FuzzRequest = {
  operation: Operation;
  path: Record<string, string>;
  query: Record<string, unknown>;
  headers: Record<string, string>;
  body?: unknown;
  contentType?: string;
};

/** Query string as the contract's styles say: form/explode for arrays, deepObject for objects. */
export function queryString(operation: Operation, query: Record<string, unknown>): string {
  const parts: string[] = [];
  const encode = (value: unknown) => encodeURIComponent(String(value));
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    const style = operation.parameters.find((parameter) => parameter.name === name)?.style;
    if (Array.isArray(value)) for (const item of value) parts.push(`${encode(name)}=${encode(item)}`);
    else if (value && typeof value === 'object' && style === 'deepObject') {
      for (const [key, inner] of Object.entries(value)) parts.push(`${encode(name)}[${encode(key)}]=${encode(inner)}`);
    } else parts.push(`${encode(name)}=${encode(value)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export function urlOf(request: FuzzRequest): string {
  const path = request.operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(request.path[name] ?? ''));
  return `${basePath}${path}${queryString(request.operation, request.query)}`;
}

export function describe(request: FuzzRequest): string {
  const body = request.body === undefined ? '' : ` ${JSON.stringify(request.body)?.slice(0, 400)}`;
  const headers = Object.keys(request.headers).length ? ` headers=${JSON.stringify(request.headers)}` : '';
  return `${request.operation.method} ${urlOf(request)}${headers}${body}`;
}
