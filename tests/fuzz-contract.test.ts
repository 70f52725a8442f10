/**
 * Conformance fuzzing (Schemathesis's checks, with fast-check): requests derived from openapi.yaml
 * alone, sent to the real server. Every response goes through the contract-checking client
 * (tests/support/client.ts): its status is declared, its content type declared, its body and
 * headers valid against their schemas. On top of that:
 *   - no 5xx, ever;
 *   - valid input (from the schemas and their examples, every branch of a oneOf) is accepted:
 *     2xx/304, or exactly the 404, 412 or 409 (a message no longer in progress) its state calls for;
 *   - input breaking one constraint of one body field (at any depth), query/path parameter or
 *     header is a 400 whose errors[] names that input; so is input breaking a rule the contract
 *     states in prose (metadata limits, a completed message's part), or a 413 for 1 MiB of content;
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
  exampleOf,
  type FuzzRequest,
  nameOf,
  type NestedViolation,
  type Operation,
  operations,
  type Parameter,
  type ProseViolations,
  type Schema,
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
/** Statuses the valid cases got, per operation: every operation must have reached its handler. */
const answered: Record<string, Record<number, number>> = {};
const countAnswer = (operationId: string, status: number) => {
  const statuses = (answered[operationId] ??= {});
  statuses[status] = (statuses[status] ?? 0) + 1;
};
afterAll(() => {
  const total = Object.values(counted).reduce((sum, n) => sum + n, 0);
  console.log(`fuzz (seed ${seed}, FUZZ_RUNS=${runs}, AUTH_MODE=${authMode}): ${total} cases — ${JSON.stringify(counted)}`);
  console.log(`fuzz: valid cases by operation and status — ${JSON.stringify(answered)}`);
});

let sequence = 0;
const unique = () => `${process.pid.toString(36)}${(sequence++).toString(36)}`;

// ---------------------------------------------------------------------------------------------
// What a valid request looks like for each operation. Beyond the schemas: a cursor is only ever
// one the server issued (a made-up one is a 400 by design), a path id is either one that exists
// (set up before the request: a session, and in it a message in progress or completed) or a
// random one (404), and an Idempotency-Key is new for every request.

const EXISTING = '<existing session>';
const IN_PROGRESS = '<existing in_progress message>';
const COMPLETED = '<existing completed message>';
const EXISTING_IDS = new Set([EXISTING, IN_PROGRESS, COMPLETED]);
/**
 * A message of the path's session, where a query or body names one (leaf_id, parent_id,
 * current_message_id: the contract's prose says another is a 400). Random otherwise (the
 * session itself is then a random one: a 404 first).
 */
const MESSAGE_OF_SESSION = '<a message of the session>';
/** The current ETag of what the path names (its last id): the session, or the message. */
const ETAG_OF_EXISTING = '<its current etag>';

/** Metadata patches use a few keys, so sessions patched again and again stay within limits. */
const patchOptions = { freeKeys: fc.constantFrom('model', 'source', 'k1', 'k2', 'k3'), maxFreeKeys: 3 };

/**
 * The rules of the contract's prose that valid values must satisfy beyond their schemas
 * (metadata's size and depth are kept by the generator's small values).
 */
const proseRules: Record<string, (value: any) => unknown> = {
  // MessageCreate: "status defaults to completed, which needs at least one content part". An
  // empty message is one about to be streamed.
  MessageCreate: (message) =>
    proseRules.MessageCreateParent!(
      (message.status ?? 'completed') === 'completed' && message.content.length === 0 ? { ...message, status: 'in_progress' } : message,
    ),
  // The same rule on a patched message: the in_progress messages set up for the cases have a part.
  // MessageCreate.parent_id: "a message already in the session (else a 400)".
  MessageCreateParent: (message) => (typeof message.parent_id === 'string' ? { ...message, parent_id: MESSAGE_OF_SESSION } : message),
  // SessionPatch.current_message_id: "this message (of the session; else a 400)".
  SessionPatch: (patch) => (patch.current_message_id === undefined ? patch : { ...patch, current_message_id: MESSAGE_OF_SESSION }),
  MessagePatch: ({ content, ...patch }) =>
    content === undefined || (patch.status === 'completed' && content.length === 0) ? patch : { content, ...patch },
  // ForkRequest: "a message_id that is not a message of this session is a 400": a generated id
  // never is one, so valid forks take the default (the current leaf); sessions-fork.test.ts
  // covers message_id.
  ForkRequest: ({ message_id: _messageId, ...fork }) => fork,
};

/**
 * A valid JSON Lines document for import (SessionDocument's description): a session line that
 * SessionCreate accepts, then messages that MessageCreate accepts, each following the one before.
 */
function validImportDocument(): fc.Arbitrary<string> {
  const session = valid({ $ref: '#/components/schemas/SessionCreate' }, 'body', { maxFreeKeys: 8, refine: proseRules });
  const message = valid({ $ref: '#/components/schemas/MessageCreate' }, 'body', { maxFreeKeys: 8, refine: proseRules });
  return fc
    .tuple(session, fc.array(message, { maxLength: 5 }))
    .map(([first, rest]) => [{ user_id: `fuzz_${unique()}`, ...(first as object) }, ...rest].map((line) => JSON.stringify(line)).join('\n'));
}

/** What a path parameter names: the collection segment before it (/sessions/{id}/messages/{message_id}). */
const resourceOf = (operation: Operation, name: string) => operation.path.split('/').at(operation.path.split('/').indexOf(`{${name}}`) - 1);

/** The id of an existing resource that lets a request reach its handler (a message still in progress). */
const reachable = (operation: Operation, name: string) => (resourceOf(operation, name) === 'messages' ? IN_PROGRESS : EXISTING);

function validParameter(parameter: Parameter, operation: Operation): fc.Arbitrary<unknown> {
  if (parameter.in === 'path') {
    const existing =
      resourceOf(operation, parameter.name) === 'messages'
        ? [{ weight: 5, arbitrary: fc.constant(IN_PROGRESS) }, { weight: 2, arbitrary: fc.constant(COMPLETED) }]
        : [{ weight: 5, arbitrary: fc.constant(EXISTING) }];
    // (a message's id random more rarely: its session's may be random too)
    const randomWeight = resourceOf(operation, parameter.name) === 'messages' ? 1 : 2;
    return fc.oneof(
      ...existing,
      { weight: randomWeight, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: fc.uuid().map((id) => id.toUpperCase()) }, // the pattern allows A-F
    );
  }
  if (parameter.name === 'If-Match' || parameter.name === 'If-None-Match') {
    return fc.oneof(fc.constant('*'), fc.constant(ETAG_OF_EXISTING), valid(parameter.schema, 'header'));
  }
  if (parameter.name === 'leaf_id') return fc.constant(MESSAGE_OF_SESSION);
  if (parameter.name === 'Idempotency-Key') return valid(parameter.schema, 'header').map((key) => `${key}-${unique()}`.slice(-255));
  // searchMessages' q: "at least one word that is not excluded" (its description); one of only
  // quotes, dashes and operators is a 400 naming q.
  if (operation.operationId === 'searchMessages' && parameter.name === 'q') {
    return valid(parameter.schema, parameter.in).map((q) => [...`word ${String(q)}`].slice(0, 200).join(''));
  }
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
      Object.fromEntries(parameters.map((parameter) => [parameter.name, validParameter(parameter, operation)])),
      { requiredKeys: parameters.filter((parameter) => parameter.required).map((parameter) => parameter.name) },
    );
  };
  const bodySchema: Schema = operation.body?.schemaName ? { $ref: `#/components/schemas/${operation.body.schemaName}` } : operation.body?.schema ?? {};
  const body = operation.operationId === 'importSession'
    ? validImportDocument()
    : operation.body
    ? valid(bodySchema, 'body', { ...(operation.operationId === 'updateSession' ? patchOptions : { maxFreeKeys: 8 }), refine: proseRules }).map(
        (value) =>
          // Without a user token, user_id is required (SessionCreate's description says so).
          operation.operationId === 'createSession' ? { user_id: `fuzz_${unique()}`, ...(value as object) } : value,
      )
    : fc.constant(undefined);
  const contentType = operation.body ? fc.constantFrom(...operation.body.mediaTypes) : fc.constant(undefined);
  return fc
    .record({ path: pick('path'), query: pick('query'), headers: pick('header'), body, contentType })
    .map((parts) => {
      // listMessages: "leaf_id … a 400 with view=all".
      if (parts.query.view === 'all') delete parts.query.leaf_id;
      return { operation, ...parts } as FuzzRequest;
    });
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

/** A message's content beyond 1 MiB as compact JSON (MessageContent's description): a 413. */
const tooLargeContent = [{ type: 'text', text: 'x'.repeat(1024 * 1024) }];

/** Every rule the contract states in prose, broken, where a value of its schema appears. */
const proseViolations: ProseViolations = (schema, name) => {
  const ref = nameOf(schema);
  const broken = (keyword: string, value: unknown, pointer = '', status?: number): NestedViolation => ({ keyword, value, pointer, status });
  if (ref === 'Metadata' || name === 'metadata') {
    return Object.entries(metadataProseViolations).map(([keyword, value]) => broken(keyword, value));
  }
  if (name === 'arguments') {
    // ToolCallPart.arguments: "nested at most 64 levels; no string in it may contain a NUL
    // character or an unpaired surrogate".
    return [
      broken('prose.arguments-nul', { query: 'a\u0000b' }),
      broken('prose.arguments-lone-surrogate', { list: ['\udfff'] }),
      broken('prose.arguments-key-nul', { 'q\u0000': 1 }),
      broken('prose.arguments-depth', Array.from({ length: 70 }).reduce<unknown>((inner) => ({ n: inner }), 1)),
    ];
  }
  if (ref === 'MessageCreate') {
    const message = exampleOf(schema, 'body') as Record<string, unknown>;
    return [
      broken('prose.completed-without-parts', { ...message, status: 'completed', content: [] }, '/content'),
      broken('prose.default-completed-without-parts', { role: 'user', content: [] }, '/content'),
      broken('prose.content-too-large', { ...message, content: tooLargeContent }, '', 413),
    ];
  }
  if (ref === 'MessagePatch') {
    return [
      broken('prose.completed-without-parts', { status: 'completed', content: [] }, '/content'),
      broken('prose.content-too-large', { content: tooLargeContent }, '', 413),
    ];
  }
  return [];
};

type Broken = { request: FuzzRequest; input: { in: string; pointer: string }; keyword: string; status: number };

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
  const choices: { in: Parameter['in']; name: string; pointer: string; keyword: string; value: unknown; status?: number }[] = [];
  for (const parameter of operation.parameters) {
    for (const violation of violations(parameter.schema, parameter.in)) {
      choices.push({ in: parameter.in, name: parameter.name, pointer: `/${parameter.name}`, ...violation });
    }
  }
  if (operation.body) {
    const bodySchema: Schema = operation.body.schemaName ? { $ref: `#/components/schemas/${operation.body.schemaName}` } : operation.body.schema;
    for (const violation of bodyViolations(bodySchema, proseViolations)) {
      // name: the top-level field the violation replaces ('' for the whole body)
      choices.push({ in: 'body', ...violation, name: violation.property });
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
      // Rules on the merged result of a PATCH can only be checked against a session (or message
      // in progress) that exists, and without an If-Match, which is checked first.
      if (choice.keyword.includes('prose.')) {
        for (const name of Object.keys(broken.path)) broken.path[name] = reachable(operation, name);
        delete broken.headers['If-Match'];
      }
      if (choice.name === '') broken.body = choice.value;
      else {
        const body = { ...(request.body as Record<string, unknown>) };
        if (choice.value === undefined) delete body[choice.name];
        else body[choice.name] = choice.value;
        broken.body = body;
      }
    }
    return { request: broken, input: { in: choice.in, pointer: choice.pointer }, keyword: choice.keyword, status: choice.status ?? 400 };
  });
}

// ---------------------------------------------------------------------------------------------
// Sending

type Sent = {
  response: ApiResponse;
  expected: 'accepted' | 'not-found' | 'precondition-failed' | 'not-in-progress';
  description: string;
};

async function createSession(): Promise<{ id: string; etag: string }> {
  const response = await api.post('/sessions', { user_id: `fuzz_${unique()}`, title: 'fuzz', metadata: { model: 'm' } });
  expect(response.status, response.text).toBe(201);
  return { id: response.body.id, etag: response.headers.get('etag')! };
}

/** A message in the session: one being streamed (it has a part already), or a completed one. */
async function appendMessage(sessionId: string, inProgress: boolean): Promise<{ id: string; etag: string }> {
  const message = inProgress
    ? { role: 'assistant', status: 'in_progress', content: [{ type: 'text', text: 'so far' }] }
    : { role: 'user', content: [{ type: 'text', text: 'a question' }] };
  const response = await api.post(`/sessions/${sessionId}/messages`, { messages: [message] });
  expect(response.status, response.text).toBe(201);
  const id = response.body.items[0].id as string;
  const read = await api.get(`/sessions/${sessionId}/messages/${id}`);
  return { id, etag: read.headers.get('etag')! };
}

/**
 * Whether the request changes what only a message in progress may change (the descriptions of
 * updateMessage and appendMessageText): content, status, model, finish_reason, usage, or text.
 */
const needsInProgress = (request: FuzzRequest) =>
  request.operation.operationId === 'appendMessageText' ||
  (request.operation.operationId === 'updateMessage' &&
    Object.entries(request.body as object).some(([key, value]) => key !== 'metadata' && value !== undefined));

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

/** A request's body as sent: JSON, or a JSON Lines document (a string) as its text. */
function bodyOf(request: FuzzRequest) {
  if (request.body === undefined) return {};
  if (request.contentType === 'application/jsonl' && typeof request.body === 'string') return { raw: request.body, contentType: request.contentType };
  return { json: request.body, contentType: request.contentType! };
}

async function send(request: FuzzRequest): Promise<Sent> {
  const resolved: FuzzRequest = { ...request, path: { ...request.path }, headers: { ...request.headers } };
  const ids = Object.values(request.path);
  const namesMessage = JSON.stringify([request.query, request.body ?? null]).includes(MESSAGE_OF_SESSION);
  let namedMessage: string = randomUUID();
  let existing: { id: string; etag: string } | undefined; // what the path names last, when it exists
  if (ids.some((id) => EXISTING_IDS.has(id)) || Object.values(request.headers).includes(ETAG_OF_EXISTING)) {
    const session = await createSession();
    const state = ids.find((id) => id === IN_PROGRESS || id === COMPLETED);
    // (in another session than the path's when its session id is a random one: still a 404)
    const message = state ? await appendMessage(session.id, state === IN_PROGRESS) : undefined;
    existing = message ?? session;
    for (const [name, value] of Object.entries(resolved.path)) {
      if (value === EXISTING) resolved.path[name] = session.id;
      if (value === IN_PROGRESS || value === COMPLETED) resolved.path[name] = message!.id;
    }
    if (namesMessage) {
      namedMessage = message?.id ?? (await appendMessage(session.id, false)).id;
      // The session changed: its ETag is the one after that append.
      if (!message) existing = { id: session.id, etag: (await api.get(`/sessions/${session.id}`)).headers.get('etag')! };
    }
  }
  if (namesMessage && typeof request.body === 'string') {
    // An import's lines (JSON Lines): a parent_id there names an earlier line's id, which the
    // generated lines do not have, so those lines follow the line before them instead.
    const placeholder = `"parent_id":${JSON.stringify(MESSAGE_OF_SESSION)}`;
    resolved.body = request.body.replaceAll(`${placeholder},`, '').replaceAll(`,${placeholder}`, '').replaceAll(`{${placeholder}}`, '{}');
  } else if (namesMessage) {
    const substitute = (value: unknown) => JSON.parse(JSON.stringify(value).replaceAll(MESSAGE_OF_SESSION, namedMessage));
    resolved.query = substitute(request.query);
    if (request.body !== undefined) resolved.body = substitute(request.body);
  }
  for (const [name, value] of Object.entries(resolved.headers)) {
    if (value === ETAG_OF_EXISTING) resolved.headers[name] = existing?.etag ?? '"1"';
  }
  const description = describeRequest(resolved);
  if (process.env.FUZZ_TRACE) console.log(`fuzz: ${description.slice(0, 300)}`);
  const response = await withTimeout(
    api.request(request.operation.method, urlOf(resolved), {
      ...bodyOf(resolved),
      headers: resolved.headers,
    }),
    description,
  );
  expect(response.status, `${description}\n→ ${response.status} ${response.text.slice(0, 500)}`).toBeLessThan(500);

  const idsExist = ids.every((id) => EXISTING_IDS.has(id));
  const ifMatch = resolved.headers['If-Match'];
  const matches = ifMatch === undefined || ifMatch === '*' || (existing !== undefined && ifMatch === existing.etag);
  const expected = !idsExist
    ? 'not-found'
    : !matches
      ? 'precondition-failed'
      : ids.includes(COMPLETED) && needsInProgress(request)
        ? 'not-in-progress'
        : 'accepted';
  return { response, expected, description };
}

const properties = { seed, numRuns: runs, endOnFailure: process.env.FUZZ_SHRINK !== '1' };
/** Each case sets up what it needs over HTTP: thousands of them take minutes on a busy machine. */
const propertyTimeout = Math.max(30_000, runs * 200);

describe('conformance fuzzing against openapi.yaml', () => {
  it('valid requests to every operation are accepted, and every response conforms', async () => {
    // Operations in turn rather than drawn at random: with sixteen of them, a hundred random
    // draws could leave one with a case or two, none reaching its handler. (Generation stays
    // deterministic for a seed, so a failure still replays.)
    let turn = 0;
    const arbitrary = fc.constant(undefined).chain(() => validRequest(operations[turn++ % operations.length]!));
    await fc.assert(
      fc.asyncProperty(arbitrary, async (request) => {
        count('valid');
        const { response, expected, description } = await send(request);
        countAnswer(request.operation.operationId, response.status);
        const why = `${description}\n→ ${response.status} ${response.text.slice(0, 500)}`;
        if (expected === 'not-found') expect(response.status, why).toBe(404);
        else if (expected === 'precondition-failed') expect(response.status, why).toBe(412);
        else if (expected === 'not-in-progress') {
          expect(response.status, why).toBe(409);
          expect(response.body.type, why).toBe('/problems/message-not-in-progress');
        } else expect([200, 201, 204, 304], why).toContain(response.status);
        // Message content is stored exactly as sent (StoredText: no trimming, every character kept).
        if (request.operation.operationId === 'appendMessages' && response.status === 201) {
          const sent = (request.body as { messages: { content: unknown }[] }).messages.map((message) => message.content);
          expect(response.body.items.map((item: { content: unknown }) => item.content), why).toEqual(sent);
        }
      }),
      // Ten cases per operation at least: each must reach its handler (the last test below).
      { ...properties, numRuns: Math.max(runs, operations.length * 10) },
    );
  }, propertyTimeout);

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
          ...bodyOf(request),
          headers: request.headers, // placeholders stay unresolved: who is calling is checked first
        });
        expect(response.status, describeRequest(request)).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }),
      properties,
    );
  }, propertyTimeout);

  it('a request breaking one constraint of one input is a 400 naming that input', async () => {
    const arbitraries = operations.map(invalidRequest).filter((arbitrary) => arbitrary !== undefined);
    await fc.assert(
      fc.asyncProperty(fc.oneof(...arbitraries), async ({ request, input, keyword, status }) => {
        count('invalid');
        const { response, description } = await send(request);
        const why = `breaks ${keyword} of ${input.in} ${input.pointer || '(the body)'}: ${description}\n→ ${response.status} ${response.text.slice(0, 500)}`;
        expect(response.status, why).toBe(status);
        if (status === 413) {
          expect(response.body.type, why).toBe('/problems/content-too-large');
          return;
        }
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
  }, propertyTimeout);

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
  }, propertyTimeout);

  it('every undeclared method on every path is a 405 problem with Allow; unknown paths are 404', async () => {
    const candidates = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    for (const path of new Set(operations.map((operation) => operation.path))) {
      const declared = declaredMethods(path);
      const concrete = path.replace(/\{\w+\}/g, randomUUID());
      for (const method of candidates.filter((candidate) => !declared.includes(candidate))) {
        count('undeclared-method');
        const response = await api.request(method, concrete, method === 'GET' ? {} : { json: {} });
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

  it.runIf(runs >= 100)('reached the handler of every operation with a valid request', () => {
    for (const operation of operations) {
      const statuses = Object.keys(answered[operation.operationId] ?? {}).map(Number);
      expect(statuses.some((status) => status < 400), `${operation.operationId}: ${JSON.stringify(answered[operation.operationId])}`).toBe(true);
    }
  });
});
