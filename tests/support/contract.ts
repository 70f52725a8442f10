/**
 * Checks a response against openapi.yaml: the status is declared for the operation, the content
 * type is one it declares, the body matches its schema, declared headers match theirs.
 * Requests outside the contract (unknown routes, undeclared methods) must be 404/405 problems.
 */
import type { OpenAPIV3_1 } from 'openapi-types';
import { createAjv } from '../../src/contract/ajv.ts';
import { basePathOf, forValidation, loadSpec } from '../../src/contract/spec.ts';

export const spec = await loadSpec();
export const basePath = basePathOf(spec);

const ajv = createAjv();
ajv.addSchema(forValidation(spec) as object, 'openapi');

type Route = { template: string; pattern: RegExp; item: OpenAPIV3_1.PathItemObject };
const routes: Route[] = Object.entries(spec.paths ?? {}).map(([template, item]) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}/?$`),
  item: item as OpenAPIV3_1.PathItemObject,
}))
  // OpenAPI matches concrete paths before templated ones (/sessions/import before /sessions/{id}).
  .sort((a, b) => Number(a.template.includes('{')) - Number(b.template.includes('{')));

export type ReceivedResponse = { status: number; headers: Headers; body: unknown; text: string };

const validators = new Map<string, ReturnType<typeof ajv.compile>>();
function validatorFor(ref: string) {
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    validators.set(ref, validate);
  }
  return validate;
}

/**
 * Whether a value satisfies a schema of the contract (one taken from `spec`, its local $refs
 * pointing into the contract): what generators check candidates against where a schema's
 * `oneOf`/`not` is easier to test than to construct.
 */
const schemaValidators = new WeakMap<object, ReturnType<typeof ajv.compile>>();
export function satisfiesSchema(schema: object, value: unknown): boolean {
  let validate = schemaValidators.get(schema);
  if (!validate) {
    const local = JSON.parse(JSON.stringify(forValidation(schema as never)), (key, inner) =>
      key === '$ref' && typeof inner === 'string' && inner.startsWith('#/') ? `openapi${inner}` : inner,
    );
    validate = ajv.compile(local);
    schemaValidators.set(schema, validate);
  }
  return validate(value) as boolean;
}

const escape = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

type Found = { route?: Route; operation?: OpenAPIV3_1.OperationObject; lower: string };

function findOperation(method: string, url: string): Found {
  const lower = method.toLowerCase();
  const pathname = new URL(url, 'http://x').pathname;
  const relative = pathname.startsWith(basePath) ? pathname.slice(basePath.length) : undefined;
  const route = relative === undefined ? undefined : routes.find((candidate) => candidate.pattern.test(relative));
  return { route, operation: route?.item[lower as 'get'] as OpenAPIV3_1.OperationObject | undefined, lower };
}

const mediaTypeOf = (headers: Headers) => (headers.get('content-type') ?? '').split(';')[0]!.trim();

/**
 * JSON Pointer (into the contract) of the schema the contract declares for this response's body,
 * if it declares one for its status and content type.
 */
export function declaredResponseSchema(method: string, url: string, response: ReceivedResponse): string | undefined {
  const { route, operation, lower } = findOperation(method, url);
  const contentType = mediaTypeOf(response.headers);
  if (!route || !operation) return contentType === 'application/problem+json' ? '#/components/schemas/Problem' : undefined;
  const declared = (operation.responses?.[String(response.status)] ?? operation.responses?.default) as
    | (OpenAPIV3_1.ResponseObject & { $ref?: string })
    | undefined;
  if (!declared) return undefined;
  const pointer = declared.$ref ?? `#/paths/${escape(route.template)}/${lower}/responses/${response.status}`;
  const object = declared.$ref ? spec.components!.responses![declared.$ref.split('/').at(-1)!]! : declared;
  return (object as OpenAPIV3_1.ResponseObject).content?.[contentType] ? `${pointer}/content/${escape(contentType)}/schema` : undefined;
}

/** JSON Pointer of the schema the contract declares for a request body of this content type, if any. */
export function declaredRequestSchema(method: string, url: string, contentType: string): string | undefined {
  const { route, operation, lower } = findOperation(method, url);
  const body = operation?.requestBody as (OpenAPIV3_1.RequestBodyObject & { $ref?: string }) | undefined;
  const mediaType = contentType.split(';')[0]!.trim();
  if (!route || !body || body.$ref || !body.content[mediaType]) return undefined;
  return `#/paths/${escape(route.template)}/${lower}/requestBody/content/${escape(mediaType)}/schema`;
}

/** Returns the list of ways the response breaks the contract (empty when it conforms). */
export function contractViolations(method: string, url: string, response: ReceivedResponse): string[] {
  const { route, operation, lower } = findOperation(method, url);
  if (lower === 'head' || lower === 'options') return [];

  if (!route || !operation) {
    // A URL or headers too long are refused before routing, on any path.
    const expected = [414, 431].includes(response.status) ? response.status : route ? 405 : 404;
    const problems = checkBody('openapi#/components/schemas/Problem', 'application/problem+json', response);
    if (response.status !== expected) problems.unshift(`expected ${expected} outside the contract, got ${response.status}`);
    if (expected === 405 && !response.headers.get('allow')) problems.push('405 without an Allow header');
    return problems;
  }

  const declared = operation.responses?.[String(response.status)] ?? operation.responses?.default;
  if (!declared) return [`status ${response.status} is not declared for ${method} ${route.template}`];
  let responsePointer = `openapi#/paths/${escape(route.template)}/${lower}/responses/${response.status}`;
  let responseObject = declared as OpenAPIV3_1.ResponseObject & { $ref?: string };
  if (responseObject.$ref) {
    responsePointer = `openapi${responseObject.$ref}`;
    const name = responseObject.$ref.split('/').at(-1)!;
    responseObject = spec.components!.responses![name] as OpenAPIV3_1.ResponseObject;
  }

  const problems: string[] = [];
  const mediaTypes = Object.keys(responseObject.content ?? {});
  if (mediaTypes.length === 0) {
    if (response.text !== '') problems.push(`status ${response.status} declares no body but got ${response.text.slice(0, 80)}`);
  } else {
    const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (!mediaTypes.includes(contentType)) {
      problems.push(`content type ${contentType || '(none)'} is not declared (${mediaTypes.join(', ')})`);
    } else {
      problems.push(...checkBody(`${responsePointer}/content/${escape(contentType)}/schema`, contentType, response));
    }
  }
  for (const [name, header] of Object.entries(responseObject.headers ?? {})) {
    const value = response.headers.get(name);
    if (value === null) continue;
    const ref = (header as { $ref?: string }).$ref;
    const schema = ref
      ? (spec.components!.headers![ref.split('/').at(-1)!] as OpenAPIV3_1.HeaderObject).schema
      : (header as OpenAPIV3_1.HeaderObject).schema;
    const typed = (schema as { type?: string })?.type === 'integer' ? Number(value) : value;
    const validate = ajv.compile(schema as object);
    if (!validate(typed)) problems.push(`header ${name}: ${ajv.errorsText(validate.errors)}`);
  }
  return problems;
}

/** Ways a response breaks the contract's Problem document (for answers no operation lists). */
export function problemViolations(response: ReceivedResponse): string[] {
  return checkBody('openapi#/components/schemas/Problem', 'application/problem+json', response);
}

function checkBody(schemaRef: string, contentType: string, response: ReceivedResponse): string[] {
  const actual = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (actual !== contentType) return [`content type ${actual || '(none)'} instead of ${contentType}`];
  const validate = validatorFor(schemaRef);
  if (!validate(response.body)) {
    return [`body does not match ${schemaRef}: ${ajv.errorsText(validate.errors)}; body: ${response.text.slice(0, 300)}`];
  }
  return contentType === 'application/jsonl' ? jsonLinesViolations(schemaRef, response.text) : [];
}

/** application/json and +json types (problem+json): bodies to parse; JSON Lines is text of many values. */
export function isJsonMediaType(contentType: string | null): boolean {
  const mediaType = (contentType ?? '').split(';')[0]!.trim();
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/** The schema a JSON pointer into the contract names (following $refs). */
function resolve(pointer: string): Record<string, unknown> {
  let node: unknown = spec;
  for (const segment of pointer.replace(/^openapi#\//, '').split('/')) {
    node = (node as Record<string, unknown>)[segment.replaceAll('~1', '/').replaceAll('~0', '~')];
    const ref = (node as { $ref?: string } | undefined)?.$ref;
    if (ref) node = resolve(`openapi${ref}`);
  }
  return node as Record<string, unknown>;
}

/**
 * A JSON Lines body against the schemas its schema names for its lines (`x-line-schemas`: the
 * first line's and every other's): each line must be JSON and valid against its schema, and the
 * document must end with a newline (a download cut short does not).
 */
function jsonLinesViolations(schemaRef: string, text: string): string[] {
  const lines = resolve(schemaRef)['x-line-schemas'] as { first: { $ref: string }; rest: { $ref: string } } | undefined;
  if (!lines) return [`${schemaRef} declares application/jsonl without x-line-schemas`];
  if (!text.endsWith('\n')) return ['a JSON Lines body must end with a newline (was it cut short?)'];
  const problems: string[] = [];
  text.slice(0, -1).split('\n').forEach((line, index) => {
    const ref = `openapi${(index === 0 ? lines.first : lines.rest).$ref}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push(`line ${index + 1} is not JSON: ${line.slice(0, 100)}`);
      return;
    }
    const validate = validatorFor(ref);
    if (!validate(value)) problems.push(`line ${index + 1} does not match ${ref}: ${ajv.errorsText(validate.errors)}`);
  });
  return problems.slice(0, 5);
}
