/**
 * Handler types derived from the generated contract types: a handler that no longer satisfies
 * `openapi.yaml` (a missing operation, an undeclared status, a wrong body or header) fails `tsc`.
 */
import type { Readable } from 'node:stream';
import type { components, operations } from '../../generated/openapi.ts';
import type { Caller } from '../auth/caller.ts';

export type OperationId = keyof operations;
export type Schemas = components['schemas'];

type Parameters<O extends OperationId, In extends 'path' | 'query' | 'header'> = NonNullable<
  operations[O]['parameters'][In]
>;

type RequestBodyOf<O extends OperationId> = operations[O] extends {
  requestBody: { content: { 'application/json': infer Body } };
}
  ? Body
  : operations[O] extends { requestBody: { content: { 'application/jsonl': unknown } } }
    ? Buffer // a JSON Lines body arrives as its bytes: the handler reads it line by line
    : undefined;

/** A request after contract validation: coerced parameters, defaults applied, body checked. */
export type ContractRequest<O extends OperationId> = {
  path: Parameters<O, 'path'>;
  query: Parameters<O, 'query'>;
  headers: Parameters<O, 'header'>;
  body: RequestBodyOf<O>;
  /** Who is calling (authenticated when the operation declares a security requirement). */
  caller: Caller;
};

/** Declared response headers, minus the index signature and those the HTTP layer sets itself. */
type HeadersOf<Response> = Response extends { headers: infer H }
  ? { [K in keyof H as string extends K ? never : K extends 'X-Request-Id' ? never : K]: string }
  : Record<never, never>;

type ReplyFor<Response, Status> = Response extends { content: { 'application/json': infer Body } }
  ? { status: Status; body: Body; headers: HeadersOf<Response> }
  : Response extends { content: { 'application/problem+json': unknown } }
    ? never // problems are raised as errors (src/http/errors.ts), not returned
    : Response extends { content: infer Content }
      ? // A body that is not JSON (a download) is streamed, under the declared media type it names.
        { status: Status; body: Readable; headers: HeadersOf<Response> & { 'Content-Type': ContentTypeOf<keyof Content> } }
      : { status: Status; body?: undefined; headers: HeadersOf<Response> };

/** A declared media type, as a Content-Type header may carry it (with parameters such as charset). */
type ContentTypeOf<MediaType> = MediaType extends string ? MediaType | `${MediaType}; ${string}` : never;

type Responses<O extends OperationId> = operations[O]['responses'];

/** Every non-problem response the contract declares for an operation. */
export type Reply<O extends OperationId> = {
  [Status in keyof Responses<O>]: ReplyFor<Responses<O>[Status], Status>;
}[keyof Responses<O>];

export type Handler<O extends OperationId> = (request: ContractRequest<O>) => Promise<Reply<O>>;

export type Handlers = { [O in OperationId]: Handler<O> };
