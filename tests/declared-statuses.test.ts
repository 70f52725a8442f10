/**
 * Every status an operation can answer is declared for it in openapi.yaml. The statuses are
 * derived from each operation's shape and the code that answers them (the table below); the ones
 * any request can provoke are then provoked on every operation of the contract, through the
 * contract-checking client, which fails on a status the operation does not declare and on a body
 * that does not match its declaration.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Operation, operations } from './support/fuzz.ts';
import { spec } from './support/contract.ts';
import { useTestService } from './support/service.ts';
import { AUDIENCE, HS_SECRET, hsToken, ISSUER } from './support/tokens.ts';

const MAX_URL_LENGTH = 8_192;
const BODY_LIMIT = 64 * 1024;
const service = useTestService({
  AUTH_MODE: 'jwt',
  JWT_SECRET: HS_SECRET,
  JWT_ISSUER: ISSUER,
  JWT_AUDIENCE: AUDIENCE,
  MAX_URL_LENGTH: String(MAX_URL_LENGTH),
  BODY_LIMIT: String(BODY_LIMIT),
  MESSAGES_BODY_LIMIT: String(BODY_LIMIT), // one limit for every operation with a body
  IMPORT_BODY_LIMIT: String(BODY_LIMIT),
});
const serviceToken = () => hsToken({ sub: 'statuses', role: 'service_role' });

const isSecured = (operation: Operation) => {
  const declared = (spec.paths?.[operation.path] as Record<string, { security?: unknown[] }>)[operation.method.toLowerCase()];
  return (declared?.security ?? spec.security ?? []).length > 0;
};
const hasParameter = (operation: Operation, name: string) => operation.parameters.some((parameter) => parameter.name === name);

/** The statuses an operation can answer beyond its own successes, and the code that answers them. */
const answerable: { status: string; when: (operation: Operation) => boolean; by: string }[] = [
  { status: '400', when: () => true, by: 'client-errors.ts (not HTTP), dispatch.ts (validation)' },
  { status: '414', when: () => true, by: 'problemBoundary (MAX_URL_LENGTH), before routing' },
  { status: '431', when: () => true, by: 'client-errors.ts (headers over 16 KiB), before routing' },
  { status: '500', when: () => true, by: 'problemBoundary (any unexpected failure)' },
  { status: '401', when: isSecured, by: 'authenticate.ts' },
  { status: '503', when: isSecured, by: 'authenticate.ts (JWKS unreachable), the database behind every secured operation' },
  { status: '413', when: (operation) => operation.body !== undefined, by: 'json-body.ts (BODY_LIMIT)' },
  { status: '415', when: (operation) => operation.body !== undefined, by: 'dispatch.ts (media type, charset), json-body.ts (encoding)' },
  { status: '404', when: (operation) => operation.path.includes('{id}'), by: 'service.ts (no such session)' },
  { status: '412', when: (operation) => hasParameter(operation, 'If-Match'), by: 'service.ts (ETag mismatch)' },
  { status: '304', when: (operation) => hasParameter(operation, 'If-None-Match'), by: 'handlers.ts (ETag matches)' },
  { status: '409', when: (operation) => hasParameter(operation, 'Idempotency-Key'), by: 'idempotency/store.ts (in progress)' },
  { status: '422', when: (operation) => hasParameter(operation, 'Idempotency-Key'), by: 'idempotency/store.ts (key reused)' },
  { status: '422', when: (operation) => operation.operationId === 'listSessions', by: 'sessions/service.ts (a list across users ran out of time)' },
  { status: '422', when: (operation) => operation.operationId === 'searchMessages', by: 'search/service.ts (a search across users ran out of time)' },
  { status: '403', when: (operation) => ['listSessions', 'searchMessages'].includes(operation.operationId), by: 'handlers.ts (a user token naming another user_id)' },
];

const named = operations.map((operation) => [`${operation.operationId} (${operation.method} ${operation.path})`, operation] as const);
const withBody = named.filter(([, operation]) => operation.body !== undefined);
const secured = named.filter(([, operation]) => isSecured(operation));
const urlOf = (operation: Operation) => operation.path.replace(/\{\w+\}/g, () => randomUUID());

describe('every operation declares every status it can answer', () => {
  it.each(named)('%s declares the statuses its shape implies', (_name, operation) => {
    const expected = answerable.filter((rule) => rule.when(operation)).map((rule) => rule.status);
    expect(operation.responses).toEqual(expect.arrayContaining(expected));
  });

  it.each(named)('%s: a URL longer than MAX_URL_LENGTH is its declared 414', async (_name, operation) => {
    const url = urlOf(operation);
    const padding = 'p'.repeat(MAX_URL_LENGTH);
    const response = await service.api.request(operation.method, `${url}?padding=${padding}`);
    expect(response.status).toBe(414);
    expect(response.body.type).toBe('/problems/uri-too-long');
    expect(response.headers.get('x-request-id')).toBe(response.body.request_id);
  });

  it.each(named)('%s: request headers over 16 KiB are its declared 431', async (_name, operation) => {
    const response = await service.api.request(operation.method, urlOf(operation), { headers: { 'X-Padding': 'p'.repeat(17_000) } });
    expect(response.status).toBe(431);
    expect(response.body.type).toBe('/problems/request-header-fields-too-large');
    expect(response.headers.get('x-request-id')).toBe(response.body.request_id);
  });

  it.each(secured)('%s: no token is its declared 401', async (_name, operation) => {
    const response = await service.api.request(operation.method, urlOf(operation));
    expect(response.status).toBe(401);
  });

  it.each(withBody)('%s: a body over BODY_LIMIT is its declared 413', async (_name, operation) => {
    const headers = { Authorization: `Bearer ${await serviceToken()}` };
    const raw = JSON.stringify({ title: 't'.repeat(BODY_LIMIT) });
    const contentType = operation.body!.mediaTypes[0]!; // the operation's own media type (JSON Lines for import)
    const response = await service.api.request(operation.method, urlOf(operation), { raw, contentType, headers });
    expect(response.status).toBe(413);
  });

  it.each(withBody)('%s: a body of another media type is its declared 415', async (_name, operation) => {
    const headers = { Authorization: `Bearer ${await serviceToken()}` };
    const response = await service.api.request(operation.method, urlOf(operation), { raw: 'hello', contentType: 'text/plain', headers });
    expect(response.status).toBe(415);
  });

  it.each(withBody)('%s: a body that is not JSON is its declared 400', async (_name, operation) => {
    const headers = { Authorization: `Bearer ${await serviceToken()}` };
    const contentType = operation.body!.mediaTypes[0]!;
    const response = await service.api.request(operation.method, urlOf(operation), { raw: '{"title":', contentType, headers });
    expect(response.status).toBe(400);
    expect(response.body.type).toBe('/problems/malformed-json');
  });
});
