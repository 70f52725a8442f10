import { createHmac, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import type { RequestOptions } from './support/client.ts';
import { createTestDatabase } from './support/database.ts';
import { startInstance, type TestService } from './support/service.ts';
import { AUDIENCE, HS_SECRET, hsSigned, hsToken, ISSUER, startJwksServer, supabase, unsignedToken } from './support/tokens.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let jwks: Awaited<ReturnType<typeof startJwksServer>>;
let service: TestService;

beforeAll(async () => {
  database = await createTestDatabase();
  jwks = await startJwksServer();
  service = await startInstance(database.url, {
    AUTH_MODE: 'jwt',
    JWT_SECRET: HS_SECRET,
    JWT_JWKS_URL: jwks.url,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    JWT_CLOCK_TOLERANCE_S: '5',
    JWT_JWKS_COOLDOWN_MS: '0',
    METRICS_TOKEN: 'metrics-token-for-tests',
  });
});
afterAll(async () => {
  await service?.stop();
  await jwks?.close();
  await database?.drop();
});

const bearer = (token: string): RequestOptions => ({ headers: { Authorization: `Bearer ${token}` } });
const as = async (sub: string, claims: Record<string, unknown> = {}) => bearer(await hsToken({ sub, ...claims }));
const service_ = () => as('billing-service', { role: 'service_role' });

async function createAs(user: string, body: object = {}) {
  const response = await service.api.post('/sessions', body, await as(user));
  expect(response.status, response.text).toBe(201);
  return response.body as { id: string; user_id: string };
}

/** Every sessions operation, with a valid body, for a given session id (on the main service by default). */
const operations = (id: string, on: () => TestService = () => service) =>
  [
    ['createSession', (options: RequestOptions) => on().api.post('/sessions', { title: 't' }, options)],
    ['listSessions', (options: RequestOptions) => on().api.get('/sessions', options)],
    ['getSession', (options: RequestOptions) => on().api.get(`/sessions/${id}`, options)],
    ['updateSession', (options: RequestOptions) => on().api.patch(`/sessions/${id}`, { title: 'x' }, options)],
    ['deleteSession', (options: RequestOptions) => on().api.delete(`/sessions/${id}`, options)],
  ] as const;

describe('a request without a valid token is a 401', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const attacks: [string, () => Promise<RequestOptions>][] = [
    ['no token', async () => ({})],
    ['a malformed header', async () => ({ headers: { Authorization: 'Bearer' } })],
    ['another scheme', async () => ({ headers: { Authorization: 'Basic dXNlcjpwYXNz' } })],
    ['garbage', async () => bearer('not.a.jwt')],
    ['a bad signature', async () => bearer(await hsToken({ sub: 'alice' }, {}, 'another-secret-that-is-long-enough-to-sign!!'))],
    ['an expired token', async () => bearer(await hsToken({ sub: 'alice' }, { expiresIn: now() - 60 }))],
    ['a token not valid yet', async () => bearer(await hsToken({ sub: 'alice' }, { notBefore: now() + 600 }))],
    ['a wrong issuer', async () => bearer(await hsToken({ sub: 'alice' }, { issuer: 'https://evil.example' }))],
    ['a wrong audience', async () => bearer(await hsToken({ sub: 'alice' }, { audience: 'another-api' }))],
    ['alg none', async () => bearer(unsignedToken({ sub: 'alice' }))],
    ['HS256 signed with the RSA public key (algorithm confusion)', async () =>
      bearer(await hsToken({ sub: 'alice' }, {}, jwks.publicPem('rsa-1')))],
    ['no exp', async () => {
      const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub: 'alice', iss: ISSUER, aud: AUDIENCE })}`;
      return bearer(`${unsigned}.${createHmac('sha256', HS_SECRET).update(unsigned).digest('base64url')}`);
    }],
    ['no sub', async () => bearer(await hsToken({}))],
    ['a sub that is not a user id', async () => bearer(await hsToken({ sub: 'has spaces' }))],
    ['a JWKS key id nobody has', async () => {
      const [, payload, signature] = (await jwks.token('rsa-1', { sub: 'alice' })).split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'unknown-kid' })).toString('base64url');
      return bearer(`${header}.${payload}.${signature}`);
    }],
  ];

  it.each(attacks)('%s → 401 on every sessions operation, with a Bearer challenge', async (_name, options) => {
    const target = (await createAs('alice')).id;
    for (const [operation, call] of operations(target)) {
      const response = await call(await options());
      expect(response.status, `${operation}: ${response.text}`).toBe(401);
      expect(response.body.type).toBe('/problems/unauthorized');
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="chat-sessions"/);
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('says why the token was refused, in WWW-Authenticate as RFC 6750 asks', async () => {
    const expired = await hsToken({ sub: 'alice' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    const response = await service.api.get('/sessions', bearer(expired));
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="chat-sessions", error="invalid_token", error_description="the token has expired"',
    );
    expect(response.body.detail).toContain('expired');
  });

  it('a request without any token gets a challenge without an error code', async () => {
    const response = await service.api.get('/sessions');
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="chat-sessions"');
  });

  it('an unauthenticated request learns nothing about its body: 401 before validation', async () => {
    const response = await service.api.post('/sessions', { bogus: true });
    expect(response.status).toBe(401);
  });
});

describe('valid tokens', () => {
  it('accepts RS256 and ES256 tokens from the JWKS', async () => {
    for (const kid of ['rsa-1', 'ec-1']) {
      const response = await service.api.get('/sessions', bearer(await jwks.token(kid, { sub: 'carol' })));
      expect(response.status, kid).toBe(200);
    }
  });

  it('follows a key rotation: a token with a new kid is verified after refetching the JWKS', async () => {
    await jwks.rotate('rsa-2');
    const before = jwks.fetches();
    const response = await service.api.get('/sessions', bearer(await jwks.token('rsa-2', { sub: 'carol' })));
    expect(response.status).toBe(200);
    expect(jwks.fetches()).toBeGreaterThan(before);
  });

  it('tolerates a small clock skew on exp', async () => {
    const response = await service.api.get('/sessions', bearer(await hsToken({ sub: 'dave' }, { expiresIn: Math.floor(Date.now() / 1000) - 2 })));
    expect(response.status).toBe(200);
  });
});

describe('a user token acts only on its own sessions', () => {
  it('creates for itself when user_id is omitted', async () => {
    const session = await createAs('erin');
    expect(session.user_id).toBe('erin');
  });

  it('may name itself as user_id', async () => {
    expect((await createAs('erin', { user_id: 'erin' })).user_id).toBe('erin');
  });

  it('may not create for another user: 403', async () => {
    const response = await service.api.post('/sessions', { user_id: 'frank' }, await as('erin'));
    expect(response.status).toBe(403);
    expect(response.body.type).toBe('/problems/forbidden');
  });

  it("another user's session answers 404, byte for byte as a missing one (but ids and timestamps)", async () => {
    const franks = await createAs('frank');
    const missing = randomUUID();
    const erin = await as('erin');
    const normalise = (text: string, id: string) =>
      text
        .replaceAll(id, 'ID')
        .replace(/"timestamp":"[^"]+"/, '')
        .replace(/"request_id":"[^"]+"/, '');
    for (const [[name, onFranks], [, onMissing]] of operations(franks.id).slice(2).map((entry, i) => [entry, operations(missing).slice(2)[i]!] as const)) {
      const theirs = await onFranks(erin);
      const nobodys = await onMissing(erin);
      expect(theirs.status, name).toBe(404);
      expect(normalise(theirs.text, franks.id), name).toBe(normalise(nobodys.text, missing));
    }
    // Nothing happened to frank's session.
    const still = await service.api.get(`/sessions/${franks.id}`, await as('frank'));
    expect(still.body).toMatchObject({ title: null, is_active: true });
  });

  it('If-Match on another user\'s session is still a 404, never a 412 that would reveal it', async () => {
    const franks = await createAs('frank');
    const response = await service.api.patch(`/sessions/${franks.id}`, { title: 'x' }, {
      ...(await as('erin')),
      headers: { ...(await as('erin')).headers, 'If-Match': '"999"' },
    });
    expect(response.status).toBe(404);
  });

  it('lists only its own sessions, among many users', async () => {
    const users = Array.from({ length: 8 }, (_, i) => `lister_${i}`);
    for (const user of users) for (let n = 0; n < 3; n++) await createAs(user, { title: `${user}-${n}` });
    for (const user of users) {
      const page = await service.api.get('/sessions?limit=100', await as(user));
      expect(page.status).toBe(200);
      expect(page.body.items.map((item: { user_id: string }) => item.user_id)).toEqual([user, user, user]);
    }
  });

  it("may not list another user's sessions: 403", async () => {
    const response = await service.api.get('/sessions?user_id=lister_1', await as('lister_0'));
    expect(response.status).toBe(403);
  });

  it("one user's cursor is useless to another", async () => {
    const page = await service.api.get('/sessions?limit=1', await as('lister_0'));
    const response = await service.api.get(`/sessions?limit=1&cursor=${page.body.next_cursor}`, await as('lister_1'));
    expect(response.status).toBe(400);
    expect(response.body.type).toBe('/problems/invalid-cursor');
  });

  it("one user's idempotency key is useless to another", async () => {
    const key = randomUUID();
    const first = await service.api.post('/sessions', { title: 'same' }, { headers: { ...(await as('gina')).headers, 'Idempotency-Key': key } });
    const second = await service.api.post('/sessions', { title: 'same' }, { headers: { ...(await as('hank')).headers, 'Idempotency-Key': key } });
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(second.body.id).not.toBe(first.body.id);
    expect(second.body.user_id).toBe('hank');
  });
});

describe('a service token acts for any user', () => {
  it('creates, reads, lists, updates and deletes any user\'s sessions', async () => {
    const admin = await service_();
    const created = await service.api.post('/sessions', { user_id: 'ivy' }, admin);
    expect(created.status).toBe(201);
    expect((await service.api.get(`/sessions/${created.body.id}`, admin)).status).toBe(200);
    expect((await service.api.get('/sessions?user_id=ivy', admin)).body.items).toHaveLength(1);
    expect((await service.api.patch(`/sessions/${created.body.id}`, { title: 'by admin' }, admin)).status).toBe(200);
    expect((await service.api.delete(`/sessions/${created.body.id}`, admin)).status).toBe(204);
  });

  it('is recognised by the sessions:admin scope too', async () => {
    const response = await service.api.get('/sessions?user_id=ivy', await as('ops-bot', { scope: 'openid sessions:admin' }));
    expect(response.status).toBe(200);
  });

  it('must name the user it creates for', async () => {
    const response = await service.api.post('/sessions', {}, await service_());
    expect(response.status).toBe(400);
    expect(response.body.errors[0].pointer).toBe('/user_id');
  });
});

describe("Supabase's tokens, exactly as it issues them", () => {
  // A deployment verifying a Supabase project's tokens: its JWT secret (legacy keys) and its JWKS,
  // no JWT_ISSUER or JWT_AUDIENCE (the service key has no aud and another iss than users' tokens).
  let project: TestService;
  const logged: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const lines = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) logged.push(JSON.parse(line));
        done();
      },
    });
    const env = { AUTH_MODE: 'jwt', JWT_SECRET: HS_SECRET, JWT_JWKS_URL: jwks.url, JWT_JWKS_COOLDOWN_MS: '0' };
    project = await startInstance(database.url, env, pino({ level: 'info', base: undefined }, lines));
  });
  afterAll(async () => {
    await project?.stop();
  });

  const REF = 'abcdefghijklmnopqrst';
  const signers = [
    ['HS256', (claims: Record<string, unknown>) => hsSigned(claims)],
    ['RS256 from the JWKS', (claims: Record<string, unknown>) => jwks.signed('rsa-1', claims)],
  ] as const;

  describe.each(signers)('signed %s', (_alg, sign) => {
    it('the service key (no sub) acts for any user', async () => {
      const key = bearer(await sign(supabase.serviceKey(REF)));
      const created = await project.api.post('/sessions', { user_id: 'supa_user' }, key);
      expect(created.status, created.text).toBe(201);
      expect((await project.api.get(`/sessions/${created.body.id}`, key)).status).toBe(200);
      expect((await project.api.get('/sessions?user_id=supa_user', key)).status).toBe(200);
      expect((await project.api.patch(`/sessions/${created.body.id}`, { title: 'by the service' }, key)).status).toBe(200);
      expect((await project.api.delete(`/sessions/${created.body.id}`, key)).status).toBe(204);
    });

    it('the service key must name the user it creates for', async () => {
      const response = await project.api.post('/sessions', {}, bearer(await sign(supabase.serviceKey(REF))));
      expect(response.status).toBe(400);
      expect(response.body.errors[0].pointer).toBe('/user_id');
    });

    it('the anon key acts for no user: 401 on every sessions operation, saying so', async () => {
      const target = (await project.api.post('/sessions', { user_id: 'supa_user' }, bearer(await sign(supabase.serviceKey(REF))))).body.id;
      const anon = bearer(await sign(supabase.anonKey(REF)));
      for (const [operation, call] of operations(target, () => project)) {
        const response = await call(anon);
        expect(response.status, `${operation}: ${response.text}`).toBe(401);
        expect(response.headers.get('www-authenticate'), operation).toContain('error_description="an anon key acts for no user');
      }
    });

    it("a user's access token (aud authenticated) acts for its sub only", async () => {
      const uuid = randomUUID();
      const token = bearer(await sign(supabase.userAccessToken(REF, uuid)));
      const mine = await project.api.post('/sessions', { title: 'mine' }, token);
      expect(mine.status, mine.text).toBe(201);
      expect(mine.body.user_id).toBe(uuid);
      const theirs = await project.api.post('/sessions', { user_id: 'supa_user' }, bearer(await sign(supabase.serviceKey(REF))));
      expect((await project.api.get(`/sessions/${theirs.body.id}`, token)).status).toBe(404);
      expect((await project.api.get('/sessions', token)).body.items.map((item: { id: string }) => item.id)).toEqual([mine.body.id]);
    });

    it('a user token without sub is still refused', async () => {
      const { sub: _, ...claims } = supabase.userAccessToken(REF, randomUUID());
      const response = await project.api.get('/sessions', bearer(await sign(claims)));
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error_description="the token has no \'sub\': only a service token may omit it"');
    });
  });

  it("two projects' service keys keep their idempotency keys apart", async () => {
    const key = randomUUID();
    const body = { user_id: 'shared_user', title: 'same' };
    const first = await project.api.post('/sessions', body, { headers: { Authorization: `Bearer ${await hsSigned(supabase.serviceKey('projectaaaaaaaaaaaaa'))}`, 'Idempotency-Key': key } });
    const second = await project.api.post('/sessions', body, { headers: { Authorization: `Bearer ${await hsSigned(supabase.serviceKey('projectbbbbbbbbbbbbb'))}`, 'Idempotency-Key': key } });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(second.body.id).not.toBe(first.body.id);
  });

  it('the log line names the service key by its role and project, never by its token', async () => {
    const token = await hsSigned(supabase.serviceKey(REF));
    const response = await project.api.get('/sessions?user_id=supa_user', bearer(token));
    const line = logged.find((entry) => entry.request_id === response.headers.get('x-request-id'));
    expect(line).toMatchObject({ msg: 'request', status: 200, caller: `service:role:service_role@${REF}` });
    expect(JSON.stringify(logged)).not.toContain(token.split('.')[2]);
  });

  it("the log line names a user only as a user, never by its id", async () => {
    const uuid = randomUUID();
    const response = await project.api.get('/sessions', bearer(await hsSigned(supabase.userAccessToken(REF, uuid))));
    const line = logged.find((entry) => entry.request_id === response.headers.get('x-request-id'));
    expect(line).toMatchObject({ status: 200, caller: 'user' });
    expect(JSON.stringify(line)).not.toContain(uuid);
  });
});

describe('public and protected surfaces', () => {
  it('health and liveness need no token', async () => {
    expect((await service.api.get('/health')).status).toBe(200);
    expect((await service.api.get('/health/live')).status).toBe(200);
  });

  it('authenticated answers are never cached, and no answer is sniffed', async () => {
    const response = await service.api.get('/sessions', await as('jill'));
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  it('/metrics needs the metrics token when METRICS_TOKEN is set', async () => {
    expect((await fetch(`${service.origin}/metrics`)).status).toBe(401);
    const allowed = await fetch(`${service.origin}/metrics`, { headers: { Authorization: 'Bearer metrics-token-for-tests' } });
    expect(allowed.status).toBe(200);
  });
});

describe('configuration', () => {
  it('production with no key material refuses to start, naming the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET: JWT_SECRET or JWT_JWKS_URL must be set/);
  });

  it('AUTH_MODE defaults to jwt in production and none elsewhere', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: HS_SECRET }).AUTH_MODE).toBe('jwt');
    expect(loadConfig({}).AUTH_MODE).toBe('none');
  });

  it('a short JWT_SECRET is refused', () => {
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: must be at least 32 characters/);
  });
});
