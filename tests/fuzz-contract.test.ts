/**
 * Conformance fuzzing (Schemathesis's checks, with fast-check): requests derived from openapi.yaml
 * alone, sent to the real server. Every response goes through the contract-checking client
 * (tests/support/client.ts): its status is declared, its content type declared, its body and
 * headers valid against their schemas. On top of that:
 *   - no 5xx, ever;
 *   - valid input (from the schemas and their examples) is accepted: 2xx/304, or exactly the 404
 *     or 412 its state calls for;
 *   - input breaking one constraint of one body field, query/path parameter or header is a 400
 *     whose errors[] names that input;
 *   - undeclared methods are a 405 with Allow; created sessions are readable and listed; a
 *     deleted session is a 404.
 * Seeded and reproducible: FUZZ_SEED (default below) and FUZZ_RUNS (cases per property; `make
 * fuzz` runs thousands). A failure prints the seed, the shrunk request and the response.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResponse, RequestOptions } from './support/client.ts';
import {
  bodyViolations,
  declaredMethods,
  describe as describeRequest,
  type FuzzRequest,
  type Operation,
  operations,
  type Parameter,
  urlOf,
  valid,
  violations,
} from './support/fuzz.ts';
import { spec } from './support/contract.ts';
import { useTestService } from './support/service.ts';
import { AUDIENCE, HS_SECRET, hsToken, ISSUER } from './support/tokens.ts';

const seed = Number(process.env.FUZZ_SEED ?? 20261125);
const runs = Number(process.env.FUZZ_RUNS ?? 100);
/** FUZZ_AUTH=jwt: the same cases against a server that requires tokens, sent with a service token. */
const authMode = process.env.FUZZ_AUTH === 'jwt' ? 'jwt' : 'none';
const service = useTestService(
  authMode === 'jwt' ? { AUTH_MODE: 'jwt', JWT_SECRET: HS_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } : {},
);
let authorization: Record<string, string> = {};
beforeAll(async () => {
  if (authMode === 'jwt') {
    authorization = { Authorization: `Bearer ${await hsToken({ sub: 'fuzz-service', role: 'service_role' }, { expiresIn: '2h' })}` };
  }
});
/** The contract-checking test client, with the token (if any) on every request. */
const api = {
  request: (method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> =>
    service.api.request(method, path, { ...options, headers: { ...authorization, ...options.headers } }),
  get: (path: string) => api.request('GET', path),
  post: (path: string, json: unknown) => api.request('POST', path, { json }),
  patch: (path: string, json: unknown) => api.request('PATCH', path, { json, contentType: 'application/merge-patch+json' }),
  delete: (path: string) => api.request('DELETE', path),
};

/** Cases run, per property, reported at the end (and asserted, so a silent zero cannot pass). */
const counted: Record<string, number> = {};
const count = (name: string) => {
  counted[name] = (counted[name] ?? 0) + 1;
};
afterAll(() => {
  const total = Object.values(counted).reduce((sum, n) => sum + n, 0);
  console.log(`fuzz (seed ${seed}, FUZZ_RUNS=${runs}, AUTH_MODE=${authMode}): ${total} cases — ${JSON.stringify(counted)}`);
});

let sequence = 0;
const unique = () => `${process.pid.toString(36)}${(sequence++).toString(36)}`;

// ---------------------------------------------------------------------------------------------
// What a valid request looks like for each operation. Beyond the schemas: a cursor is only ever
// one the server issued (a made-up one is a 400 by design), a session id is either one that
// exists or a random one (404), and an Idempotency-Key is new for every request.

const EXISTING = '<existing session>';
const ETAG_OF_EXISTING = '<its current etag>';

/** Metadata patches use a few keys, so sessions patched again and again stay within limits. */
const patchOptions = { freeKeys: fc.constantFrom('model', 'source', 'k1', 'k2', 'k3'), maxFreeKeys: 3 };

function validParameter(parameter: Parameter): fc.Arbitrary<unknown> {
  if (parameter.in === 'path') {
    return fc.oneof(
      { weight: 3, arbitrary: fc.constant(EXISTING) },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: fc.uuid().map((id) => id.toUpperCase()) }, // the pattern allows A-F
    );
  }
  if (parameter.name === 'If-Match' || parameter.name === 'If-None-Match') {
    return fc.oneof(fc.constant('*'), fc.constant(ETAG_OF_EXISTING), valid(parameter.schema, 'header'));
  }
  if (parameter.name === 'Idempotency-Key') return valid(parameter.schema, 'header').map((key) => `${key}-${unique()}`.slice(-255));
  if (parameter.style === 'deepObject') {
    // metadata[KEY]=VALUE cannot carry a KEY with brackets: the query syntax itself uses them.
    return valid(parameter.schema, parameter.in, { freeKeys: fc.string({ minLength: 1, maxLength: 20 }).filter((key) => !/[[\]]/.test(key)) });
  }
  return valid(parameter.schema, parameter.in);
}

function validRequest(operation: Operation): fc.Arbitrary<FuzzRequest> {
  const pick = (where: Parameter['in']) => {
    const parameters = operation.parameters.filter((parameter) => parameter.in === where && parameter.name !== 'cursor');
    return fc.record(
      Object.fromEntries(parameters.map((parameter) => [parameter.name, validParameter(parameter)])),
      { requiredKeys: parameters.filter((parameter) => parameter.required).map((parameter) => parameter.name) },
    );
  };
  const body = operation.body
    ? valid(operation.body.schema, 'body', operation.operationId === 'updateSession' ? patchOptions : { maxFreeKeys: 8 }).map(
        (value) =>
          // Without a user token, user_id is required (SessionCreate's description says so).
          operation.operationId === 'createSession' ? { user_id: `fuzz_${unique()}`, ...(value as object) } : value,
      )
    : fc.constant(undefined);
  const contentType = operation.body ? fc.constantFrom(...operation.body.mediaTypes) : fc.constant(undefined);
  return fc
    .record({ path: pick('path'), query: pick('query'), headers: pick('header'), body, contentType })
    .map((parts) => ({ operation, ...parts }) as FuzzRequest);
}

// ---------------------------------------------------------------------------------------------
// Invalid requests: a valid one with exactly one input breaking one constraint.

/** The rules the Metadata schema states in prose (its description), broken one at a time. */
const metadataProseViolations: Record<string, unknown> = {
  'prose.max-bytes': { big: 'x'.repeat(8 * 1024) },
  'prose.max-depth': { a: { b: { c: { d: { e: { f: 'six levels' } } } } } },
  'prose.nul-in-value': { model: 'gpt\u0000' },
  'prose.nul-in-key': { 'mo\u0000del': 'gpt' },
  'prose.lone-surrogate-value': { model: 'gpt\ud800' },
  'prose.lone-surrogate-key': { 'mo\udc00del': 'gpt' },
  'prose.nested-nul': { list: [1, { deep: 'a\u0000b' }] },
  'prose.very-deep': Array.from({ length: 2000 }).reduce<unknown>((inner) => ({ n: inner }), 'bottom'),
};

type Broken = { request: FuzzRequest; input: { in: string; pointer: string }; keyword: string };

/**
 * Deviations the fuzzer found that are not fixed yet: each is kept as a regular test in
 * tests/fuzz-findings.test.ts (which fails once it is fixed, so this list gets emptied).
 */
const knownDeviations: { operationId: string; in: string; pointer: string; keyword: string }[] = [];
const isKnownDeviation = (operationId: string, choice: { in: string; pointer: string; keyword: string }) =>
  knownDeviations.some(
    (known) => known.operationId === operationId && known.in === choice.in && known.pointer === choice.pointer && known.keyword === choice.keyword,
  );

function invalidRequest(operation: Operation): fc.Arbitrary<Broken> | undefined {
  const choices: { in: Parameter['in']; name: string; pointer: string; keyword: string; value: unknown }[] = [];
  for (const parameter of operation.parameters) {
    for (const violation of violations(parameter.schema, parameter.in)) {
      choices.push({ in: parameter.in, name: parameter.name, pointer: `/${parameter.name}`, ...violation });
    }
  }
  if (operation.body) {
    for (const violation of bodyViolations(operation.body.schema)) {
      choices.push({ in: 'body', name: violation.pointer, ...violation });
    }
    for (const [name, property] of Object.entries(operation.body.schema.properties ?? {})) {
      if ((property as { $ref?: string }).$ref === '#/components/schemas/Metadata' || name === 'metadata') {
        for (const [keyword, value] of Object.entries(metadataProseViolations)) {
          choices.push({ in: 'body', name: `/${name}`, pointer: `/${name}`, keyword, value });
        }
      }
    }
  }
  const kept = choices.filter((choice) => !isKnownDeviation(operation.operationId, choice));
  if (!kept.length) return undefined;
  return fc.tuple(validRequest(operation), fc.constantFrom(...kept)).map(([request, choice]) => {
    const broken: FuzzRequest = { ...request, path: { ...request.path }, query: { ...request.query }, headers: { ...request.headers } };
    if (choice.in === 'path') broken.path[choice.name] = String(choice.value);
    if (choice.in === 'query') broken.query[choice.name] = choice.value;
    if (choice.in === 'header') broken.headers[choice.name] = String(choice.value);
    if (choice.in === 'body') {
      // Rules on the merged result of a PATCH can only be checked against a session that exists.
      // (and without an If-Match, which is checked first)
      if (choice.keyword.startsWith('prose.')) {
        for (const name of Object.keys(broken.path)) broken.path[name] = EXISTING;
        delete broken.headers['If-Match'];
      }
      const name = choice.pointer.slice(1);
      if (choice.pointer === '') broken.body = choice.value;
      else {
        const body = { ...(request.body as Record<string, unknown>) };
        if (choice.keyword === 'required') delete body[name];
        else body[name] = choice.value;
        broken.body = body;
      }
    }
    return { request: broken, input: { in: choice.in, pointer: choice.pointer }, keyword: choice.keyword };
  });
}

// ---------------------------------------------------------------------------------------------
// Sending

type Sent = { response: ApiResponse; expected: 'accepted' | 'not-found' | 'precondition-failed'; description: string };

async function createSession(): Promise<{ id: string; etag: string }> {
  const response = await api.post('/sessions', { user_id: `fuzz_${unique()}`, title: 'fuzz', metadata: { model: 'm' } });
  expect(response.status, response.text).toBe(201);
  return { id: response.body.id, etag: response.headers.get('etag')! };
}

/** A request the server never answers is a failure too, not a hung test run. */
async function withTimeout<T>(promise: Promise<T>, description: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${description}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function send(request: FuzzRequest): Promise<Sent> {
  const resolved: FuzzRequest = { ...request, path: { ...request.path }, headers: { ...request.headers } };
  let existing: { id: string; etag: string } | undefined;
  if (Object.values(request.path).includes(EXISTING) || Object.values(request.headers).includes(ETAG_OF_EXISTING)) {
    existing = await createSession();
  }
  for (const [name, value] of Object.entries(resolved.path)) if (value === EXISTING) resolved.path[name] = existing!.id;
  for (const [name, value] of Object.entries(resolved.headers)) {
    if (value === ETAG_OF_EXISTING) resolved.headers[name] = existing?.etag ?? '"1"';
  }
  const description = describeRequest(resolved);
  if (process.env.FUZZ_TRACE) console.log(`fuzz: ${description.slice(0, 300)}`);
  const response = await withTimeout(
    api.request(request.operation.method, urlOf(resolved), {
      ...(resolved.body !== undefined ? { json: resolved.body, contentType: resolved.contentType! } : {}),
      headers: resolved.headers,
    }),
    description,
  );
  expect(response.status, `${description}\n→ ${response.status} ${response.text.slice(0, 500)}`).toBeLessThan(500);

  const hasId = Object.keys(request.path).length > 0;
  const idExists = !hasId || Object.values(request.path).includes(EXISTING);
  const ifMatch = resolved.headers['If-Match'];
  const matches = ifMatch === undefined || ifMatch === '*' || (existing !== undefined && ifMatch === existing.etag);
  const expected = !idExists ? 'not-found' : !matches ? 'precondition-failed' : 'accepted';
  return { response, expected, description };
}

const properties = { seed, numRuns: runs, endOnFailure: process.env.FUZZ_SHRINK !== '1' };

describe('conformance fuzzing against openapi.yaml', () => {
  it('valid requests to every operation are accepted, and every response conforms', async () => {
    const arbitrary = fc.constantFrom(...operations).chain(validRequest);
    await fc.assert(
      fc.asyncProperty(arbitrary, async (request) => {
        count('valid');
        const { response, expected, description } = await send(request);
        const why = `${description}\n→ ${response.status} ${response.text.slice(0, 500)}`;
        if (expected === 'not-found') expect(response.status, why).toBe(404);
        else if (expected === 'precondition-failed') expect(response.status, why).toBe(412);
        else expect([200, 201, 204, 304], why).toContain(response.status);
      }),
      properties,
    );
  });

  it.runIf(authMode === 'jwt')('without the token, every valid request to a protected operation is a 401', async () => {
    const protectedOperations = operations.filter((operation) => {
      const declared = (spec.paths?.[operation.path] as Record<string, { security?: unknown[] }> | undefined)?.[operation.method.toLowerCase()];
      return (declared?.security ?? spec.security ?? []).length > 0;
    });
    expect(protectedOperations.length).toBeGreaterThan(0);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...protectedOperations).chain(validRequest), async (request) => {
        count('no-token');
        const response = await service.api.request(request.operation.method, urlOf(request), {
          ...(request.body !== undefined ? { json: request.body, contentType: request.contentType! } : {}),
          headers: request.headers, // placeholders stay unresolved: who is calling is checked first
        });
        expect(response.status, describeRequest(request)).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }),
      properties,
    );
  });

  it('a request breaking one constraint of one input is a 400 naming that input', async () => {
    const arbitraries = operations.map(invalidRequest).filter((arbitrary) => arbitrary !== undefined);
    await fc.assert(
      fc.asyncProperty(fc.oneof(...arbitraries), async ({ request, input, keyword }) => {
        count('invalid');
        const { response, description } = await send(request);
        const why = `breaks ${keyword} of ${input.in} ${input.pointer || '(the body)'}: ${description}\n→ ${response.status} ${response.text.slice(0, 500)}`;
        expect(response.status, why).toBe(400);
        if (input.pointer === '' && keyword === 'type') return; // not a JSON object at all: malformed-json
        const named = (response.body.errors ?? []) as { in: string; pointer: string }[];
        const pointer = input.in === 'header' ? '' : input.pointer;
        expect(
          named.some((error) => error.in === input.in && (error.pointer === pointer || error.pointer.startsWith(`${pointer}/`) || pointer === '')),
          why,
        ).toBe(true);
      }),
      { ...properties, numRuns: Math.round(runs * 1.5) },
    );
  });

  it('created sessions are readable, listed and pageable by cursor; deleted ones are 404', async () => {
    const create = operations.find((operation) => operation.operationId === 'createSession')!;
    const bodies = fc.array(validRequest(create).map((request) => request.body as Record<string, unknown>), { minLength: 1, maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(bodies, async (drafts) => {
        count('lifecycle');
        const user = `fuzz_${unique()}`;
        const created: Record<string, any>[] = [];
        for (const draft of drafts) {
          const response = await api.post('/sessions', { ...draft, user_id: user });
          expect(response.status, response.text).toBe(201);
          const location = response.headers.get('location')!;
          const read = await api.get(location);
          expect(read.status).toBe(200);
          expect(read.body).toEqual(response.body);
          expect(read.headers.get('etag')).toBe(response.headers.get('etag'));
          created.push(response.body);
        }
        // Listed, and walked by cursor one page at a time: every session exactly once.
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page: ApiResponse = await api.get(
            `/sessions?user_id=${user}&include_deleted=true&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
          );
          expect(page.status, page.text).toBe(200);
          seen.push(...page.body.items.map((item: { id: string }) => item.id));
          cursor = page.body.next_cursor;
        } while (cursor && seen.length <= created.length);
        expect([...seen].sort()).toEqual(created.map((session) => session.id).sort());

        const victim = created[0]!;
        const url = `/sessions/${victim.id}`;
        const soft = await api.delete(url);
        expect(soft.status).toBe(204);
        expect((await api.get(url)).body.is_active).toBe(false);
        expect((await api.delete(`${url}?hard=true`)).status).toBe(204);
        expect((await api.get(url)).status).toBe(404);
        expect((await api.patch(url, { title: 'gone' })).status).toBe(404);
        expect((await api.delete(url)).status).toBe(404);
      }),
      { ...properties, numRuns: Math.max(5, Math.round(runs / 5)) },
    );
  });

  it('every undeclared method on every path is a 405 problem with Allow; unknown paths are 404', async () => {
    const candidates = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    for (const path of new Set(operations.map((operation) => operation.path))) {
      const declared = declaredMethods(path);
      const concrete = path.replace(/\{\w+\}/g, randomUUID());
      for (const method of candidates.filter((candidate) => !declared.includes(candidate))) {
        count('undeclared-method');
        const response = await api.request(method, concrete, { json: {} });
        expect(response.status, `${method} ${concrete}`).toBe(405);
        const allowed = response.headers.get('allow')!.split(/,\s*/).sort();
        expect(allowed).toEqual([...new Set([...declared, ...(declared.includes('GET') ? ['HEAD'] : [])])].sort());
      }
    }
    for (const path of ['/nowhere', '/sessions/x/y', '/health/ready/now']) {
      count('unknown-route');
      expect((await api.get(path)).status).toBe(404);
    }
  });

  it('ran the cases it was asked to', () => {
    expect(counted.valid).toBeGreaterThanOrEqual(runs);
    expect(counted.invalid).toBeGreaterThanOrEqual(Math.round(runs * 1.5));
  });
});
