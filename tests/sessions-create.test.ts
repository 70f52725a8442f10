import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { useTestService } from './support/service.ts';
import { expectInvalid, type FieldError, problemMembers } from './support/problems.ts';

const service = useTestService();

const rfc3339Utc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** A user id of its own for each test, so that counts in the database belong to that test. */
const uniqueUser = () => `user_${randomUUID()}`;

const create = (body: unknown, headers?: Record<string, string>) =>
  service.api.post('/sessions', body, headers ? { headers } : {});

/** Sends JSON text exactly as written, e.g. with `\u0000` or `\ud800` escapes in it. */
const createRaw = (text: string, headers: Record<string, string> = {}) =>
  service.api.post('/sessions', undefined, { raw: text, contentType: 'application/json', headers });

async function rowCount(where: string, params: unknown[]): Promise<number> {
  return withClient(service.databaseUrl, async (client) => {
    const result = await client.query(`SELECT count(*)::int AS n FROM chat_sessions WHERE ${where}`, params);
    return result.rows[0].n as number;
  });
}

describe('POST /sessions: what a new session looks like', () => {
  it('a session created with only user_id is 201 with the defaults: untitled, active, empty metadata', async () => {
    const user = uniqueUser();
    const response = await create({ user_id: user });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ user_id: user, title: null, status: 'active', is_active: true, metadata: {} });
    expect(response.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('a session created with every field echoes title, status and metadata', async () => {
    const user = uniqueUser();
    const metadata = { model: 'gpt-4o', source: 'web', nested: { list: [1, 'two', null, true] } };
    const response = await create({ user_id: user, title: 'Quarterly report questions', status: 'archived', metadata });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ user_id: user, title: 'Quarterly report questions', status: 'archived', metadata });
  });

  it('each status of the enum can be given on create', async () => {
    for (const status of ['active', 'archived', 'closed']) {
      const response = await create({ user_id: uniqueUser(), status });
      expect(response.status).toBe(201);
      expect(response.body.status).toBe(status);
    }
  });

  it('an explicit title of null creates an untitled session', async () => {
    const response = await create({ user_id: uniqueUser(), title: null });
    expect(response.status).toBe(201);
    expect(response.body.title).toBeNull();
  });

  it('created_at and updated_at are server-set RFC 3339 UTC instants, equal on create', async () => {
    const before = Date.now();
    const response = await create({ user_id: uniqueUser() });
    const after = Date.now();
    expect(response.body.created_at).toMatch(rfc3339Utc);
    expect(response.body.updated_at).toBe(response.body.created_at);
    const createdAt = Date.parse(response.body.created_at);
    expect(createdAt).toBeGreaterThanOrEqual(before - 1000);
    expect(createdAt).toBeLessThanOrEqual(after + 1000);
  });

  it('the id is server-generated: two sessions with the same body get different ids', async () => {
    const user = uniqueUser();
    const [first, second] = [await create({ user_id: user }), await create({ user_id: user })];
    expect(first.body.id).not.toBe(second.body.id);
  });

  it('the session is stored: the row in chat_sessions has the fields that were answered', async () => {
    const user = uniqueUser();
    const response = await create({ user_id: user, title: 'Stored', metadata: { a: 1 } });
    const row = await withClient(service.databaseUrl, async (client) =>
      (await client.query('SELECT user_id, title, status, is_active, metadata FROM chat_sessions WHERE id = $1', [response.body.id])).rows[0],
    );
    expect(row).toEqual({ user_id: user, title: 'Stored', status: 'active', is_active: true, metadata: { a: 1 } });
  });
});

describe('POST /sessions: Location and ETag', () => {
  it('the Location header of a 201 points at a GET that returns the same session', async () => {
    const created = await create({ user_id: uniqueUser(), title: 'Find me', metadata: { k: 'v' } });
    const location = created.headers.get('location');
    expect(location).toBe(`/api/v1/sessions/${created.body.id}`);
    const fetched = await service.api.get(location!);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(created.body);
  });

  it('the 201 carries a strong ETag, the same one a GET of the session then answers', async () => {
    const created = await create({ user_id: uniqueUser() });
    const etag = created.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/);
    const fetched = await service.api.get(`/sessions/${created.body.id}`);
    expect(fetched.headers.get('etag')).toBe(etag);
  });
});

describe('POST /sessions: user_id', () => {
  it('a missing user_id is a 400 naming /user_id as required', async () => {
    expectInvalid(await create({ title: 'No owner' }), { in: 'body', pointer: '/user_id', message: /required/ });
  });

  it('an empty user_id is a 400 naming /user_id', async () => {
    expectInvalid(await create({ user_id: '' }), { in: 'body', pointer: '/user_id' });
  });

  it('a user_id that is not a string is a 400 naming /user_id', async () => {
    expectInvalid(await create({ user_id: 42 }), { in: 'body', pointer: '/user_id' });
  });

  it('a user_id of 1 character is accepted', async () => {
    const response = await create({ user_id: 'u' });
    expect(response.status).toBe(201);
    expect(response.body.user_id).toBe('u');
  });

  it('a user_id of 255 characters is accepted', async () => {
    const user = `u${randomUUID()}`.padEnd(255, 'x');
    const response = await create({ user_id: user });
    expect(response.status).toBe(201);
    expect(response.body.user_id).toBe(user);
  });

  it('a user_id of 256 characters is a 400 naming /user_id', async () => {
    expectInvalid(await create({ user_id: 'x'.repeat(256) }), { in: 'body', pointer: '/user_id', message: /255/ });
  });

  it.each([
    ['upper-case letters', 'ABCXYZ'],
    ['lower-case letters', 'abcxyz'],
    ['digits', '0123456789'],
    ['a dot', 'first.last'],
    ['an underscore', 'user_42'],
    ['an at sign', 'me@example.com'],
    ['a colon', 'tenant:42'],
    ['a vertical bar', 'auth0|42'],
    ['a plus', 'me+tag'],
    ['a hyphen', 'user-42'],
    ['every allowed character at once', 'AZaz09._@:|+-'],
  ])('a user_id with %s is accepted', async (_name, user) => {
    const response = await create({ user_id: user });
    expect(response.status).toBe(201);
    expect(response.body.user_id).toBe(user);
  });

  it.each([
    ['a space', 'user 42'],
    ['a slash', 'user/42'],
    ['a backslash', 'user\\42'],
    ['a hash', 'user#42'],
    ['a percent sign', 'user%42'],
    ['a comma', 'user,42'],
    ['a semicolon', 'user;42'],
    ['a single quote', "user'42"],
    ['a double quote', 'user"42'],
    ['an asterisk', 'user*42'],
    ['an equals sign', 'user=42'],
    ['a tilde', 'user~42'],
    ['a non-ASCII letter', 'usér'],
    ['an emoji', 'user😀'],
    ['a tab', 'user\t42'],
    ['a newline', 'user\n42'],
  ])('a user_id with %s is a 400 naming /user_id', async (_name, user) => {
    expectInvalid(await create({ user_id: user }), { in: 'body', pointer: '/user_id', message: /letters, digits/ });
  });

  it('a user_id with a NUL character is a 400 naming /user_id', async () => {
    expectInvalid(await createRaw('{"user_id":"u\\u0000v"}'), { in: 'body', pointer: '/user_id' });
  });

  it('a user_id with a lone surrogate is a 400 naming /user_id', async () => {
    expectInvalid(await createRaw('{"user_id":"u\\ud800v"}'), { in: 'body', pointer: '/user_id' });
  });
});

describe('POST /sessions: title', () => {
  it('a title of 1 character is accepted', async () => {
    const response = await create({ user_id: uniqueUser(), title: 'a' });
    expect(response.status).toBe(201);
    expect(response.body.title).toBe('a');
  });

  it('a title of 500 code points (emoji) is accepted', async () => {
    const title = '😀'.repeat(500); // 1000 UTF-16 code units, 2000 UTF-8 bytes
    const response = await create({ user_id: uniqueUser(), title });
    expect(response.status).toBe(201);
    expect(response.body.title).toBe(title);
  });

  it('a title of 501 code points (emoji) is a 400 naming /title', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), title: '😀'.repeat(501) }), {
      in: 'body',
      pointer: '/title',
      message: /500/,
    });
  });

  it('a title of 501 ASCII characters is a 400 naming /title', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), title: 'a'.repeat(501) }), { in: 'body', pointer: '/title' });
  });

  it('a title is stored and returned trimmed', async () => {
    const response = await create({ user_id: uniqueUser(), title: '   Hello, world \u3000 ' });
    expect(response.status).toBe(201);
    expect(response.body.title).toBe('Hello, world');
  });

  it('a title is trimmed before counting: 500 characters plus surrounding spaces is accepted', async () => {
    const title = 'a'.repeat(500);
    const response = await create({ user_id: uniqueUser(), title: `   ${title}   ` });
    expect(response.status).toBe(201);
    expect(response.body.title).toBe(title);
  });

  it('a whitespace-only title is a 400 naming /title', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), title: '   \u00a0 ' }), { in: 'body', pointer: '/title' });
  });

  it('an empty title is a 400 naming /title', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), title: '' }), { in: 'body', pointer: '/title' });
  });

  it('a title that is not a string is a 400 naming /title', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), title: 42 }), { in: 'body', pointer: '/title' });
  });

  it.each([
    ['a newline (U+000A)', 'a\nb'],
    ['a carriage return (U+000D)', 'a\rb'],
    ['a tab (U+0009)', 'a\tb'],
    ['an escape (U+001B)', 'a\u001bb'],
    ['U+0001', 'a\u0001b'],
    ['DEL (U+007F)', 'a\u007fb'],
    ['the C1 control U+0085', 'a\u0085b'],
    ['the C1 control U+009F', 'a\u009fb'],
  ])('a title containing %s is a 400 naming /title', async (_name, title) => {
    expectInvalid(await create({ user_id: uniqueUser(), title }), { in: 'body', pointer: '/title', message: /control/ });
  });

  it('a title with a NUL character is a 400 naming /title', async () => {
    expectInvalid(await createRaw('{"user_id":"u","title":"a\\u0000b"}'), { in: 'body', pointer: '/title' });
  });

  it('a title with a lone high surrogate is a 400 naming /title', async () => {
    expectInvalid(await createRaw('{"user_id":"u","title":"a\\ud800b"}'), { in: 'body', pointer: '/title' });
  });

  it('a title with a lone low surrogate is a 400 naming /title', async () => {
    expectInvalid(await createRaw('{"user_id":"u","title":"a\\udc00b"}'), { in: 'body', pointer: '/title' });
  });

  it('a title with a properly paired surrogate (escaped) is accepted as one emoji', async () => {
    const response = await createRaw('{"user_id":"u","title":"\\ud83d\\ude00"}');
    expect(response.status).toBe(201);
    expect(response.body.title).toBe('😀');
  });
});

describe('POST /sessions: status', () => {
  it('a status outside the enum is a 400 naming /status', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), status: 'deleted' }), { in: 'body', pointer: '/status' });
  });

  it('a status of null is a 400 naming /status', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), status: null }), { in: 'body', pointer: '/status' });
  });

  it('a status with a NUL character is a 400 naming /status', async () => {
    expectInvalid(await createRaw('{"user_id":"u","status":"active\\u0000"}'), { in: 'body', pointer: '/status' });
  });

  it('a status with a lone surrogate is a 400 naming /status', async () => {
    expectInvalid(await createRaw('{"user_id":"u","status":"\\udfff"}'), { in: 'body', pointer: '/status' });
  });
});

describe('POST /sessions: metadata', () => {
  /** {"k":"xxx…"} whose compact JSON is exactly `bytes` bytes long. */
  const metadataOfBytes = (bytes: number) => ({ k: 'x'.repeat(bytes - '{"k":""}'.length) });

  /** Objects nested `depth` levels deep, the metadata object itself being level 1. */
  const nestedObjects = (depth: number): Record<string, unknown> => (depth === 1 ? { leaf: 'v' } : { [`l${depth}`]: nestedObjects(depth - 1) });

  const keys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`key${index}`, index]));

  it('metadata of exactly 8192 bytes of compact UTF-8 JSON is accepted', async () => {
    const metadata = metadataOfBytes(8192);
    expect(Buffer.byteLength(JSON.stringify(metadata))).toBe(8192);
    const response = await create({ user_id: uniqueUser(), metadata });
    expect(response.status).toBe(201);
    expect(response.body.metadata).toEqual(metadata);
  });

  it('metadata of 8193 bytes of compact UTF-8 JSON is a 400 naming /metadata', async () => {
    const metadata = metadataOfBytes(8193);
    expectInvalid(await create({ user_id: uniqueUser(), metadata }), { in: 'body', pointer: '/metadata', message: /8192/ });
  });

  it('metadata size counts UTF-8 bytes, not characters: 8193 bytes in fewer characters is a 400', async () => {
    // "é" is 2 bytes in UTF-8: {"k":"é…éx"} with 4092 of them is 8 + 8184 + 1 = 8193 bytes in 4101 characters.
    const metadata = { k: `${'é'.repeat(4092)}x` };
    expect(Buffer.byteLength(JSON.stringify(metadata))).toBe(8193);
    expectInvalid(await create({ user_id: uniqueUser(), metadata }), { in: 'body', pointer: '/metadata' });
  });

  it('metadata size is measured on compact JSON: an indented body whose metadata compacts to 8192 bytes is accepted', async () => {
    const metadata = metadataOfBytes(8192);
    const text = JSON.stringify({ user_id: uniqueUser(), metadata }, null, 8);
    const response = await createRaw(text);
    expect(response.status).toBe(201);
    expect(response.body.metadata).toEqual(metadata);
  });

  it('metadata nested 5 levels deep (the object itself is level 1) is accepted', async () => {
    const metadata = nestedObjects(5);
    const response = await create({ user_id: uniqueUser(), metadata });
    expect(response.status).toBe(201);
    expect(response.body.metadata).toEqual(metadata);
  });

  it('metadata nested 6 levels deep is a 400 naming the too-deep value', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), metadata: nestedObjects(6) }), {
      in: 'body',
      pointer: '/metadata/l6/l5/l4/l3/l2',
      message: /5/,
    });
  });

  it('arrays count as a level: metadata with arrays reaching level 5 is accepted', async () => {
    const metadata = { a: [[[['deepest']]]] }; // metadata 1, a 2, [3], [4], [5]
    const response = await create({ user_id: uniqueUser(), metadata });
    expect(response.status).toBe(201);
    expect(response.body.metadata).toEqual(metadata);
  });

  it('arrays count as a level: metadata with arrays reaching level 6 is a 400 naming the too-deep array', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), metadata: { a: [[[[['deepest']]]]] } }), {
      in: 'body',
      pointer: '/metadata/a/0/0/0/0',
    });
  });

  it('metadata with 50 top-level keys is accepted', async () => {
    const response = await create({ user_id: uniqueUser(), metadata: keys(50) });
    expect(response.status).toBe(201);
    expect(Object.keys(response.body.metadata)).toHaveLength(50);
  });

  it('metadata with 51 top-level keys is a 400 naming /metadata', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), metadata: keys(51) }), { in: 'body', pointer: '/metadata', message: /50/ });
  });

  it('a metadata key of 64 characters is accepted', async () => {
    const key = 'k'.repeat(64);
    const response = await create({ user_id: uniqueUser(), metadata: { [key]: 'v' } });
    expect(response.status).toBe(201);
    expect(response.body.metadata).toEqual({ [key]: 'v' });
  });

  it('a metadata key of 64 code points (emoji) is accepted', async () => {
    const key = '🔑'.repeat(64);
    const response = await create({ user_id: uniqueUser(), metadata: { [key]: 'v' } });
    expect(response.status).toBe(201);
    expect(response.body.metadata).toEqual({ [key]: 'v' });
  });

  it('a metadata key of 65 characters is a 400 naming that key', async () => {
    const key = 'k'.repeat(65);
    expectInvalid(await create({ user_id: uniqueUser(), metadata: { [key]: 'v' } }), {
      in: 'body',
      pointer: `/metadata/${key}`,
      message: /64/,
    });
  });

  it('an empty metadata key is a 400 naming it (/metadata/)', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), metadata: { '': 'v' } }), { in: 'body', pointer: '/metadata/' });
  });

  it('metadata that is an array is a 400 naming /metadata', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), metadata: ['a'] }), { in: 'body', pointer: '/metadata' });
  });

  it('metadata that is null on create is a 400 naming /metadata', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), metadata: null }), { in: 'body', pointer: '/metadata' });
  });

  it('metadata that is a string is a 400 naming /metadata', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), metadata: '{}' }), { in: 'body', pointer: '/metadata' });
  });

  it('a metadata value with a NUL character is a 400 naming that value', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"note":"a\\u0000b"}}'), { in: 'body', pointer: '/metadata/note' });
  });

  it('a metadata value with a lone surrogate is a 400 naming that value', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"note":"a\\ud800b"}}'), { in: 'body', pointer: '/metadata/note' });
  });

  it('a metadata key with a NUL character is a 400 naming that key', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"a\\u0000b":"v"}}'), { in: 'body', pointer: '/metadata/a\u0000b' });
  });

  it('a metadata key with a lone surrogate is a 400 naming that key', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"a\\udc00b":"v"}}'), { in: 'body', pointer: '/metadata/a\udc00b' });
  });

  it('a nested metadata value with a NUL character is a 400 naming the nested value', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"outer":{"inner":"a\\u0000b"}}}'), {
      in: 'body',
      pointer: '/metadata/outer/inner',
    });
  });

  it('a nested metadata value with a lone surrogate is a 400 naming the nested value', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"outer":{"inner":"\\ud800"}}}'), {
      in: 'body',
      pointer: '/metadata/outer/inner',
    });
  });

  it('a nested metadata key with a NUL character is a 400 naming the nested key', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"outer":{"in\\u0000ner":1}}}'), {
      in: 'body',
      pointer: '/metadata/outer/in\u0000ner',
    });
  });

  it('a nested metadata key with a lone surrogate is a 400 naming the nested key', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"outer":{"in\\ud800ner":1}}}'), {
      in: 'body',
      pointer: '/metadata/outer/in\ud800ner',
    });
  });

  it('a string with a NUL character inside a metadata array is a 400 naming its index', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"tags":["ok","a\\u0000b"]}}'), {
      in: 'body',
      pointer: '/metadata/tags/1',
    });
  });

  it('a metadata key containing "/" and "~" is escaped in the pointer (RFC 6901)', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"a/b~c":"\\u0000"}}'), {
      in: 'body',
      pointer: '/metadata/a~1b~0c',
    });
  });

  it('a metadata number too large for JSON (1e400) is a 400 naming it, not stored as null', async () => {
    expectInvalid(await createRaw('{"user_id":"u","metadata":{"big":1e400}}'), { in: 'body', pointer: '/metadata/big' });
  });

  it('a metadata key named __proto__ is stored and returned as an ordinary key', async () => {
    const response = await createRaw(`{"user_id":"${uniqueUser()}","metadata":{"__proto__":{"polluted":true},"a":1}}`);
    expect(response.status).toBe(201);
    expect(JSON.parse(response.text).metadata).toEqual(JSON.parse('{"__proto__":{"polluted":true},"a":1}'));
  });

  it('no row is written when metadata is rejected', async () => {
    const user = uniqueUser();
    const response = await createRaw(`{"user_id":"${user}","metadata":{"note":"a\\u0000b"}}`);
    expect(response.status).toBe(400);
    expect(await rowCount('user_id = $1', [user])).toBe(0);
  });
});

describe('POST /sessions: fields the body may not carry', () => {
  it('an unknown field is a 400 naming it', async () => {
    expectInvalid(await create({ user_id: uniqueUser(), colour: 'blue' }), { in: 'body', pointer: '/colour', message: /not a known field/ });
  });

  it('an unknown field is rejected, not silently dropped: no row is written', async () => {
    const user = uniqueUser();
    expect((await create({ user_id: user, tags: ['a'] })).status).toBe(400);
    expect(await rowCount('user_id = $1', [user])).toBe(0);
  });

  it.each(['id', 'is_active', 'created_at', 'updated_at'])('the server-set field %s in a create body is a 400 naming it', async (field) => {
    const values: Record<string, unknown> = {
      id: randomUUID(),
      is_active: false,
      created_at: '2020-01-01T00:00:00.000Z',
      updated_at: '2020-01-01T00:00:00.000Z',
    };
    expectInvalid(await create({ user_id: uniqueUser(), [field]: values[field] }), { in: 'body', pointer: `/${field}` });
  });
});

describe('POST /sessions: SQL-looking text is plain data', () => {
  it("a title of '; DROP TABLE chat_sessions; -- is stored and returned verbatim and the table still exists", async () => {
    const title = "'; DROP TABLE chat_sessions; --";
    const response = await create({ user_id: uniqueUser(), title });
    expect(response.status).toBe(201);
    expect(response.body.title).toBe(title);
    const fetched = await service.api.get(`/sessions/${response.body.id}`);
    expect(fetched.body.title).toBe(title);
    const stored = await withClient(service.databaseUrl, async (client) => {
      const table = await client.query("SELECT to_regclass('public.chat_sessions') AS name");
      const row = await client.query('SELECT title FROM chat_sessions WHERE id = $1', [response.body.id]);
      return { table: table.rows[0].name, title: row.rows[0].title };
    });
    expect(stored).toEqual({ table: 'chat_sessions', title });
  });

  it('SQL-looking metadata keys and values are stored and returned verbatim', async () => {
    const metadata = { "x'); DELETE FROM chat_sessions; --": "1' OR '1'='1", 'q"': '$$; SELECT pg_sleep(10); $$' };
    const response = await create({ user_id: uniqueUser(), metadata });
    expect(response.status).toBe(201);
    expect(response.body.metadata).toEqual(metadata);
    const fetched = await service.api.get(`/sessions/${response.body.id}`);
    expect(fetched.body.metadata).toEqual(metadata);
  });
});

describe('POST /sessions: problem documents', () => {
  it('a validation problem carries type, title, status, detail, instance, error, timestamp, request_id and errors[{in, pointer, message}]', async () => {
    const response = await create({ user_id: uniqueUser(), title: '😀'.repeat(501) }, { 'X-Request-Id': 'create-test-42' });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Object.keys(response.body)).toEqual(expect.arrayContaining([...problemMembers, 'errors']));
    expect(response.body).toMatchObject({
      type: '/problems/validation-failed',
      title: 'Validation failed',
      status: 400,
      instance: '/api/v1/sessions',
      error: 'Validation failed',
      request_id: 'create-test-42',
    });
    expect(response.body.detail).toMatch(/title/);
    expect(response.body.timestamp).toMatch(rfc3339Utc);
    expect(response.body.errors).toEqual([{ in: 'body', pointer: '/title', message: expect.stringMatching(/500/) }]);
  });

  it('several invalid fields are all named in errors[]', async () => {
    const response = await create({ user_id: 'bad user', title: '', status: 'nope' });
    expect(response.status).toBe(400);
    const pointers = (response.body.errors as FieldError[]).map((error) => error.pointer).sort();
    expect([...new Set(pointers)]).toEqual(['/status', '/title', '/user_id']);
  });
});

describe('POST /sessions: a contract limit is enforced by the contract layer', () => {
  it('a 256-character user_id is rejected with errors[{in: body, pointer: /user_id}] about the 255 limit, and nothing is inserted', async () => {
    const user = `contract_${randomUUID()}`.padEnd(256, 'z');
    const before = await rowCount('TRUE', []);
    const response = await create({ user_id: user, title: 'never stored' });
    expect(response.status).toBe(400);
    expect(response.body.type).toBe('/problems/validation-failed');
    expect(response.body.errors).toEqual([{ in: 'body', pointer: '/user_id', message: expect.stringMatching(/\b255\b/) }]);
    expect(await rowCount('user_id = $1', [user])).toBe(0);
    expect(await rowCount('TRUE', [])).toBe(before);
  });
});

describe('POST /sessions: Idempotency-Key', () => {
  it('the same Idempotency-Key with the same body replays the first response and creates nothing more', async () => {
    const user = uniqueUser();
    const headers = { 'Idempotency-Key': `key-${randomUUID()}` };
    const first = await create({ user_id: user, title: 'Once' }, headers);
    const second = await create({ user_id: user, title: 'Once' }, headers);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await rowCount('user_id = $1', [user])).toBe(1);
  });

  it('the same body with its keys in another order is the same body: the response is replayed', async () => {
    const user = uniqueUser();
    const headers = { 'Idempotency-Key': `key-${randomUUID()}` };
    const first = await createRaw(`{"user_id":"${user}","title":"Order","metadata":{"a":1,"b":2}}`, headers);
    const second = await createRaw(`{"metadata":{"b":2,"a":1},"title":"Order","user_id":"${user}"}`, headers);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(await rowCount('user_id = $1', [user])).toBe(1);
  });

  it('a replay answers the first response even after the session has changed since', async () => {
    const user = uniqueUser();
    const headers = { 'Idempotency-Key': `key-${randomUUID()}` };
    const first = await create({ user_id: user, title: 'Original' }, headers);
    expect((await service.api.patch(`/sessions/${first.body.id}`, { title: 'Renamed' })).status).toBe(200);
    const replay = await create({ user_id: user, title: 'Original' }, headers);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('etag')).toBe(first.headers.get('etag'));
  });

  it('a request rejected by validation does not use up its Idempotency-Key', async () => {
    const user = uniqueUser();
    const headers = { 'Idempotency-Key': `key-${randomUUID()}` };
    expect((await create({ user_id: user, title: '' }, headers)).status).toBe(400);
    const retried = await create({ user_id: user, title: 'Fixed' }, headers);
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
  });

  it('the same Idempotency-Key with a different body is a 422 problem', async () => {
    const user = uniqueUser();
    const headers = { 'Idempotency-Key': `key-${randomUUID()}` };
    expect((await create({ user_id: user, title: 'First' }, headers)).status).toBe(201);
    const reused = await create({ user_id: user, title: 'Second' }, headers);
    expect(reused.status).toBe(422);
    expect(reused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(reused.body.type).toBe('/problems/idempotency-key-reused');
    expect(await rowCount('user_id = $1', [user])).toBe(1);
  });

  it('concurrent identical requests with one Idempotency-Key create exactly one session', async () => {
    const user = uniqueUser();
    const headers = { 'Idempotency-Key': `key-${randomUUID()}` };
    const responses = await Promise.all(Array.from({ length: 8 }, () => create({ user_id: user }, headers)));
    for (const response of responses) expect([201, 409]).toContain(response.status);
    expect(await rowCount('user_id = $1', [user])).toBe(1);
  });

  it('an Idempotency-Key of 255 visible ASCII characters is accepted', async () => {
    const key = `${randomUUID()}!~`.padEnd(255, '#');
    const response = await create({ user_id: uniqueUser() }, { 'Idempotency-Key': key });
    expect(response.status).toBe(201);
  });

  it('an Idempotency-Key with a space is a 400 naming the header', async () => {
    const response = await create({ user_id: uniqueUser() }, { 'Idempotency-Key': 'two words' });
    expect(response.status).toBe(400);
    expect((response.body.errors as FieldError[]).map((error) => [error.in, error.pointer.toLowerCase()])).toEqual([
      ['header', '/idempotency-key'],
    ]);
  });

  it('an Idempotency-Key of 256 characters is a 400 naming the header', async () => {
    const response = await create({ user_id: uniqueUser() }, { 'Idempotency-Key': 'k'.repeat(256) });
    expect(response.status).toBe(400);
    expect((response.body.errors as FieldError[]).map((error) => [error.in, error.pointer.toLowerCase()])).toEqual([
      ['header', '/idempotency-key'],
    ]);
  });
});
