import Router from '@koa/router';
import type { ErrorObject } from 'ajv';
import type { Context } from 'koa';
import { type Document, OpenAPIBackend, type Operation } from 'openapi-backend';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { Authenticate } from '../auth/authenticate.ts';
import type { Caller } from '../auth/caller.ts';
import { AppError, type FieldError, validationFailed } from '../errors.ts';
import { readJsonBody, readRawBody } from '../http/json-body.ts';
import { queryParser } from './query.ts';
import { basePathOf, forValidation, type Spec } from './spec.ts';
import type { Handlers, OperationId } from './types.ts';
import { createAjvCustomizer, toFieldErrors } from './validation.ts';

type Options = {
  spec: Spec;
  handlers: Handlers;
  bodyLimit: number;
  /** Operations whose bodies may be larger (or must be smaller) than `bodyLimit`. */
  bodyLimits?: Partial<Record<OperationId, number>>;
  /** Identifies the caller of operations that declare a security requirement. */
  authenticate?: Authenticate;
  /** Rewrites a parsed body before validation, for rules the contract states on normalised input. */
  normalizeBody?: Partial<Record<OperationId, (body: unknown) => void>>;
};

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** openapi-backend over the contract, as the router validates with it (validators compiled on demand). */
export async function contractValidation(spec: Spec): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({ definition: forValidation(spec) as Document, quick: true, customizeAjv: createAjvCustomizer() });
  await api.init();
  return api;
}

/**
 * Routes every operation of the contract with @koa/router and validates each request with the
 * validators openapi-backend compiles from the contract, once per operation. (openapi-backend's
 * own per-request routing rebuilds its operation table on every call; see FIELD-NOTES.md.)
 */
export async function createContractRouter({
  spec,
  handlers,
  bodyLimit,
  bodyLimits = {},
  authenticate = async () => ({ kind: 'local' }),
  normalizeBody = {},
}: Options): Promise<Router> {
  const api = await contractValidation(spec);
  const operations = api.getOperations();
  assertHandlersMatch(operations, handlers);

  const basePath = basePathOf(spec);
  const readOnlyFields = new Set(Object.keys(schemaOf(spec, 'Session').properties ?? {}));

  // OpenAPI matches a concrete path before a templated one: GET /sessions/import is the concrete
  // path's (which has no GET: a 405), not getSession's with id "import".
  const concrete = new Map<string, string[]>();
  for (const operation of operations) {
    if (operation.path.includes('{')) continue;
    const methods = concrete.get(basePath + operation.path) ?? [];
    concrete.set(basePath + operation.path, [...methods, operation.method.toUpperCase()]);
  }

  const router = new Router();
  for (const operation of operations) {
    const operationId = operation.operationId as OperationId;
    const route = basePath + operation.path;
    // Compiled on the operation's first request, not at start-up: compiling every operation's
    // validators took ~120 ms of a ~410 ms start (tests/contract-schemas.test.ts compiles them all).
    let validators: Validator[] | undefined;
    const handler = handlers[operationId] as (request: unknown) => Promise<Reply>;
    const normalize = normalizeBody[operationId];
    const readBody = createBodyReader(bodyLimits[operationId] ?? bodyLimit);
    const parseQuery = queryParser((operation.parameters ?? []) as OpenAPIV3_1.ParameterObject[]);
    const secured = (operation.security ?? spec.security ?? []).length > 0;
    // Declared header parameters: their name in the contract, and Node's (lower-case) key.
    const headerParameters = (operation.parameters ?? [])
      .map((parameter) => parameter as OpenAPIV3_1.ParameterObject)
      .filter((parameter) => parameter.in === 'header')
      .map(({ name }) => ({ name, key: name.toLowerCase() }));

    const templated = operation.path.includes('{');
    router[operation.method as 'get'](route.replace(/\{(\w+)\}/g, ':$1'), async (ctx: Context) => {
      const shadowing = templated ? concrete.get(ctx.path.replace(/\/$/, '')) : undefined;
      if (shadowing) {
        const allowed = shadowing.includes('GET') ? [...shadowing, 'HEAD'] : shadowing;
        throw new AppError('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}; allowed: ${allowed.join(', ')}`, {
          headers: { Allow: allowed.join(', ') },
        });
      }
      ctx.state.operationId = operationId;
      ctx.state.route = route;
      if (secured) ctx.res.setHeader('Cache-Control', 'no-store'); // private data: never cached, problems too
      // Who is calling comes first: an anonymous request learns nothing about its body's validity.
      const caller: Caller = secured ? await authenticate(ctx.headers) : { kind: 'local' };
      if (secured) ctx.state.caller = caller; // for the request's log line
      const body = operation.requestBody ? await readBody(ctx, operation) : undefined;
      if (body !== undefined) normalize?.(body);
      const { query, errors: queryErrors } = parseQuery(ctx.querystring);
      // Only the declared headers are validated (the schema lets any others through): copy just those.
      const header: Record<string, unknown> = {};
      for (const { key } of headerParameters) if (ctx.headers[key] !== undefined) header[key] = ctx.headers[key];
      const input = { path: { ...ctx.params }, query, header, requestBody: body };
      const errors: ErrorObject[] = [];
      validators ??= api.validator.getRequestValidatorsForOperation(operationId) as Validator[];
      for (const validate of validators) if (!validate(input)) errors.push(...(validate.errors ?? []));
      if (errors.length || queryErrors.length) {
        throw validationFailed(mergeByPointer(queryErrors, toFieldErrors(errors, readOnlyFields)));
      }
      // Handlers see the declared header parameters under their declared names.
      const headers: Record<string, unknown> = {};
      for (const { name, key } of headerParameters) if (header[key] !== undefined) headers[name] = header[key];
      send(ctx, await handler({ path: input.path, query: input.query, headers, body, caller }));
    });
  }
  return router;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

function send(ctx: Context, reply: Reply): void {
  ctx.status = reply.status;
  for (const name in reply.headers) ctx.res.setHeader(name, reply.headers[name]!); // see src/http/edge.ts
  if (reply.body === undefined) return;
  // A reply naming its own media type carries a stream (an export: src/contract/types.ts).
  if (reply.headers?.['Content-Type'] !== undefined) {
    ctx.body = reply.body;
    return;
  }
  // JSON, serialised here with its type on the raw response: Koa's body setter then takes the
  // string path (its length only), and respond() ends with it, instead of looking the type 'json'
  // up, setting it with ctx.set, and testing the body against Blob, streams and Response first.
  ctx.res.setHeader('Content-Type', JSON_TYPE);
  ctx.body = JSON.stringify(reply.body);
}

const JSON_TYPE = 'application/json; charset=utf-8'; // what Koa sets for an object body

/** Checks a body's media type against the operation's, then reads the JSON. */
function createBodyReader(bodyLimit: number) {
  return async function readBody(ctx: Context, operation: Operation): Promise<unknown> {
    const hasBody = Number(ctx.get('Content-Length') || 0) > 0 || ctx.get('Transfer-Encoding') !== '';
    if (!hasBody) return undefined;
    const accepted = Object.keys((operation.requestBody as OpenAPIV3_1.RequestBodyObject).content);
    const given = ctx.request.type;
    if (!accepted.includes(given)) {
      throw new AppError(
        'unsupported_media_type',
        `Content-Type ${given || '(none)'} is not accepted here; use ${accepted.join(' or ')}`,
      );
    }
    const charset = ctx.request.charset;
    if (charset && !/^utf-?8$/i.test(charset)) {
      throw new AppError('unsupported_media_type', `charset ${charset} is not accepted: bodies are UTF-8`);
    }
    // JSON Lines (import) is read as bytes: its handler parses and validates it line by line.
    if (given === 'application/jsonl') return readRawBody(ctx.req, bodyLimit);
    return readJsonBody(ctx.req, bodyLimit);
  };
}

/** Unknown paths answer 404; known paths with another method answer 405 and say what is allowed. */
export function unroutedRequests(router: Router) {
  return async function unrouted(ctx: Context): Promise<void> {
    const layers = router.match(ctx.path, ctx.method).path;
    // A concrete path's methods only, when it is one (it is matched before any templated path).
    const concrete = layers.filter((layer) => layer.paramNames.length === 0);
    const allowed = [...new Set((concrete.length ? concrete : layers).flatMap((layer) => layer.methods))];
    if (allowed.length) {
      throw new AppError('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}; allowed: ${allowed.join(', ')}`, {
        headers: { Allow: allowed.join(', ') },
      });
    }
    throw new AppError('route_not_found', `There is no route ${ctx.method} ${ctx.path}`);
  };
}

/** Every handler answers an operation of the contract, and every operation has a handler. */
function assertHandlersMatch(operations: Operation[], handlers: Handlers): void {
  const declared = new Set(operations.map((operation) => operation.operationId));
  const missing = [...declared].filter((id) => !(id! in handlers));
  const unknown = Object.keys(handlers).filter((id) => !declared.has(id));
  if (missing.length || unknown.length) {
    throw new Error(
      `Handlers do not match openapi.yaml: missing [${missing.join(', ')}], not in the contract [${unknown.join(', ')}]`,
    );
  }
}

function schemaOf(spec: Spec, name: string): OpenAPIV3_1.SchemaObject {
  return (spec.components?.schemas?.[name] ?? {}) as OpenAPIV3_1.SchemaObject;
}

/** One entry per invalid input: the first list's entries win. */
function mergeByPointer(first: FieldError[], second: FieldError[]): FieldError[] {
  const taken = new Set(first.map((error) => `${error.in} ${error.pointer}`));
  return [...first, ...second.filter((error) => !taken.has(`${error.in} ${error.pointer}`))];
}
