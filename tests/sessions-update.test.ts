import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { useTestService } from './support/service.ts';
import { expectInvalid, problemMembers } from './support/problems.ts';

const service = useTestService();


async function createSession(body: Record<string, unknown> = {}) {
  const response = await service.api.post('/sessions', { user_id: `patcher_${randomUUID()}`, ...body });
  expect(response.status, response.text).toBe(201);
  return response;
}

/** PATCH with a JSON value, as application/merge-patch+json unless told otherwise. */
const patch = (id: string, body: unknown, options: { contentType?: string; headers?: Record<string, string> } = {}) =>
  service.api.patch(`/sessions/${id}`, body, options);

/** PATCH with JSON text exactly as written, e.g. with `\u0000` or `\ud800` escapes in it. */
const patchRaw = (id: string, text: string) =>
  service.api.patch(`/sessions/${id}`, undefined, { raw: text, contentType: 'application/merge-patch+json' });

const keys = (count: number, prefix = 'key') =>
  Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, index]));

/** {"k":"xxx…"} whose compact JSON is exactly `bytes` bytes long. */
const metadataOfBytes = (bytes: number) => ({ k: 'x'.repeat(bytes - '{"k":""}'.length) });

describe('PATCH /sessions/{id}: title', () => {
  it('a new title is stored and returned', async () => {
    const { body: session } = await createSession({ title: 'Old' });
    const response = await patch(session.id, { title: 'New' });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe('New');
    expect((await service.api.get(`/sessions/${session.id}`)).body.title).toBe('New');
  });

  it('title: null makes the session untitled', async () => {
    const { body: session } = await createSession({ title: 'Named' });
    const response = await patch(session.id, { title: null });
    expect(response.status).toBe(200);
    expect(response.body.title).toBeNull();
  });

  it('a patched title is trimmed', async () => {
    const { body: session } = await createSession();
    const response = await patch(session.id, { title: '  Trim me\t ' });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe('Trim me');
  });

  it('a title of 500 code points (emoji) is accepted', async () => {
    const { body: session } = await createSession();
    const title = '🎉'.repeat(500);
    const response = await patch(session.id, { title });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe(title);
  });

  it('a title of 501 code points (emoji) is a 400 naming /title', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { title: '🎉'.repeat(501) }), { in: 'body', pointer: '/title', message: /500/ });
  });

  it('a title is trimmed before counting: 500 characters plus surrounding spaces is accepted', async () => {
    const { body: session } = await createSession();
    const response = await patch(session.id, { title: `  ${'b'.repeat(500)}  ` });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe('b'.repeat(500));
  });

  it('a whitespace-only title is a 400 naming /title', async () => {
    const { body: session } = await createSession({ title: 'Keep' });
    expectInvalid(await patch(session.id, { title: '    ' }), { in: 'body', pointer: '/title' });
  });

  it.each([
    ['a newline (U+000A)', 'a\nb'],
    ['DEL (U+007F)', 'a\u007fb'],
    ['the C1 control U+0085', 'a\u0085b'],
  ])('a title containing %s is a 400 naming /title', async (_name, title) => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { title }), { in: 'body', pointer: '/title', message: /control/ });
  });

  it('a title with a NUL character is a 400 naming /title', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"title":"a\\u0000b"}'), { in: 'body', pointer: '/title' });
  });

  it('a title with a lone surrogate is a 400 naming /title', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"title":"a\\ud800b"}'), { in: 'body', pointer: '/title' });
  });

  it("a title of '; DROP TABLE chat_sessions; -- is stored verbatim and the table still exists", async () => {
    const { body: session } = await createSession();
    const title = "'; DROP TABLE chat_sessions; --";
    const response = await patch(session.id, { title });
    expect(response.body.title).toBe(title);
    const table = await withClient(service.databaseUrl, async (client) =>
      (await client.query("SELECT to_regclass('public.chat_sessions') AS name")).rows[0].name,
    );
    expect(table).toBe('chat_sessions');
  });
});

describe('PATCH /sessions/{id}: status and is_active', () => {
  it.each(['archived', 'closed', 'active'])('status can be changed to %s', async (status) => {
    const { body: session } = await createSession({ status: status === 'active' ? 'closed' : 'active' });
    const response = await patch(session.id, { status });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe(status);
  });

  it('a status outside the enum is a 400 naming /status', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { status: 'deleted' }), { in: 'body', pointer: '/status' });
  });

  it('a status of null is a 400 naming /status', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { status: null }), { in: 'body', pointer: '/status' });
  });

  it('a status with a NUL character is a 400 naming /status', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"status":"closed\\u0000"}'), { in: 'body', pointer: '/status' });
  });

  it('is_active: true restores a soft-deleted session', async () => {
    const { body: session } = await createSession({ title: 'Back again' });
    expect((await service.api.delete(`/sessions/${session.id}`)).status).toBe(204);
    const response = await patch(session.id, { is_active: true });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ is_active: true, title: 'Back again' });
    expect((await service.api.get(`/sessions/${session.id}`)).body.is_active).toBe(true);
  });

  it('is_active: false soft-deletes the session', async () => {
    const { body: session } = await createSession();
    const response = await patch(session.id, { is_active: false });
    expect(response.status).toBe(200);
    expect(response.body.is_active).toBe(false);
  });

  it('an is_active that is not a boolean is a 400 naming /is_active', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { is_active: 'yes' }), { in: 'body', pointer: '/is_active' });
  });
});

describe('PATCH /sessions/{id}: metadata is a JSON Merge Patch (RFC 7396)', () => {
  it('metadata merges key by key: keys not in the patch are kept', async () => {
    const { body: session } = await createSession({ metadata: { model: 'gpt-4o', source: 'web' } });
    const response = await patch(session.id, { metadata: { model: 'gpt-4.1' } });
    expect(response.status).toBe(200);
    expect(response.body.metadata).toEqual({ model: 'gpt-4.1', source: 'web' });
  });

  it('a new metadata key is added', async () => {
    const { body: session } = await createSession({ metadata: { a: 1 } });
    const response = await patch(session.id, { metadata: { b: 2 } });
    expect(response.body.metadata).toEqual({ a: 1, b: 2 });
  });

  it('a null metadata value removes its key', async () => {
    const { body: session } = await createSession({ metadata: { model: 'gpt-4o', source: 'web' } });
    const response = await patch(session.id, { metadata: { model: 'gpt-4.1', source: null } });
    expect(response.status).toBe(200);
    expect(response.body.metadata).toEqual({ model: 'gpt-4.1' });
  });

  it('removing a key that does not exist changes nothing else', async () => {
    const { body: session } = await createSession({ metadata: { a: 1 } });
    const response = await patch(session.id, { metadata: { missing: null } });
    expect(response.status).toBe(200);
    expect(response.body.metadata).toEqual({ a: 1 });
  });

  it('metadata merges recursively: nested objects merge key by key', async () => {
    const { body: session } = await createSession({ metadata: { settings: { temperature: 0.2, tools: { search: true } } } });
    const response = await patch(session.id, { metadata: { settings: { tools: { code: true } } } });
    expect(response.body.metadata).toEqual({ settings: { temperature: 0.2, tools: { search: true, code: true } } });
  });

  it('a nested null removes the nested key only', async () => {
    const { body: session } = await createSession({ metadata: { settings: { temperature: 0.2, top_p: 1 } } });
    const response = await patch(session.id, { metadata: { settings: { top_p: null } } });
    expect(response.body.metadata).toEqual({ settings: { temperature: 0.2 } });
  });

  it('an array in the patch replaces the array it patches, it does not merge into it', async () => {
    const { body: session } = await createSession({ metadata: { tags: ['a', 'b', 'c'] } });
    const response = await patch(session.id, { metadata: { tags: ['z'] } });
    expect(response.body.metadata).toEqual({ tags: ['z'] });
  });

  it('an object in the patch replaces a scalar it patches', async () => {
    const { body: session } = await createSession({ metadata: { a: 'scalar' } });
    const response = await patch(session.id, { metadata: { a: { now: 'object' } } });
    expect(response.body.metadata).toEqual({ a: { now: 'object' } });
  });

  it('metadata: null empties the metadata', async () => {
    const { body: session } = await createSession({ metadata: { a: 1, b: { c: 2 } } });
    const response = await patch(session.id, { metadata: null });
    expect(response.status).toBe(200);
    expect(response.body.metadata).toEqual({});
    expect((await service.api.get(`/sessions/${session.id}`)).body.metadata).toEqual({});
  });

  it('metadata: {} changes no key', async () => {
    const { body: session } = await createSession({ metadata: { a: 1 } });
    const response = await patch(session.id, { metadata: {} });
    expect(response.status).toBe(200);
    expect(response.body.metadata).toEqual({ a: 1 });
  });

  it('metadata that is an array is a 400 naming /metadata', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { metadata: [1] }), { in: 'body', pointer: '/metadata' });
  });

  it('fields the patch does not name are left as they were', async () => {
    const { body: session } = await createSession({ title: 'Keep', status: 'archived', metadata: { k: 'v' } });
    const response = await patch(session.id, { metadata: { other: 1 } });
    expect(response.body).toMatchObject({ title: 'Keep', status: 'archived', is_active: true, user_id: session.user_id });
  });

  it('the merged metadata is what is stored in the database', async () => {
    const { body: session } = await createSession({ metadata: { a: 1, b: 2 } });
    await patch(session.id, { metadata: { b: null, c: 3 } });
    const stored = await withClient(service.databaseUrl, async (client) =>
      (await client.query('SELECT metadata FROM chat_sessions WHERE id = $1', [session.id])).rows[0].metadata,
    );
    expect(stored).toEqual({ a: 1, c: 3 });
  });
});

describe('PATCH /sessions/{id}: metadata limits apply to the merged result', () => {
  it('adding a 51st key to metadata with 50 keys is a 400 naming /metadata', async () => {
    const { body: session } = await createSession({ metadata: keys(50) });
    expectInvalid(await patch(session.id, { metadata: { one_more: true } }), { in: 'body', pointer: '/metadata', message: /50/ });
    expect(Object.keys((await service.api.get(`/sessions/${session.id}`)).body.metadata)).toHaveLength(50);
  });

  it('replacing the value of one of 50 keys is accepted', async () => {
    const { body: session } = await createSession({ metadata: keys(50) });
    const response = await patch(session.id, { metadata: { key7: 'replaced' } });
    expect(response.status).toBe(200);
    expect(Object.keys(response.body.metadata)).toHaveLength(50);
    expect(response.body.metadata.key7).toBe('replaced');
  });

  it('removing one of 50 keys and adding another in the same patch is accepted', async () => {
    const { body: session } = await createSession({ metadata: keys(50) });
    const response = await patch(session.id, { metadata: { key0: null, fresh: 1 } });
    expect(response.status).toBe(200);
    expect(Object.keys(response.body.metadata)).toHaveLength(50);
  });

  it('a patch of 51 keys, one of them a removal, merging into empty metadata gives 50 keys and is accepted', async () => {
    const { body: session } = await createSession();
    const response = await patch(session.id, { metadata: { ...keys(50), not_there: null } });
    expect(response.status).toBe(200);
    expect(Object.keys(response.body.metadata)).toHaveLength(50);
  });

  it('a patch of 51 new keys into empty metadata is a 400 naming /metadata', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { metadata: keys(51) }), { in: 'body', pointer: '/metadata', message: /50/ });
  });

  it('merged metadata of exactly 8192 bytes of compact UTF-8 JSON is accepted', async () => {
    const { body: session } = await createSession({ metadata: { k: 'start' } });
    const target = metadataOfBytes(8192);
    const response = await patch(session.id, { metadata: target });
    expect(response.status).toBe(200);
    expect(Buffer.byteLength(JSON.stringify(response.body.metadata))).toBe(8192);
  });

  it('merged metadata of 8193 bytes is a 400 naming /metadata, even when the patch itself is small', async () => {
    // Stored {"k":"x…x"} is 8184 bytes; merging in "a":"yz" adds 9 bytes (,"a":"yz") to make 8193.
    const { body: session } = await createSession({ metadata: { k: 'x'.repeat(8184 - 8) } });
    const merged = { ...session.metadata, a: 'yz' };
    expect(Buffer.byteLength(JSON.stringify(merged))).toBe(8193);
    expectInvalid(await patch(session.id, { metadata: { a: 'yz' } }), { in: 'body', pointer: '/metadata', message: /8192/ });
  });

  it('merged metadata nested 5 levels deep is accepted', async () => {
    const { body: session } = await createSession({ metadata: { a: { b: { c: {} } } } });
    const response = await patch(session.id, { metadata: { a: { b: { c: { d: { leaf: 1 } } } } } });
    expect(response.status).toBe(200);
    expect(response.body.metadata).toEqual({ a: { b: { c: { d: { leaf: 1 } } } } });
  });

  it('merged metadata nested 6 levels deep is a 400 naming the too-deep value', async () => {
    const { body: session } = await createSession({ metadata: { a: { b: { c: { d: {} } } } } });
    expectInvalid(await patch(session.id, { metadata: { a: { b: { c: { d: { e: {} } } } } } }), {
      in: 'body',
      pointer: '/metadata/a/b/c/d/e',
    });
  });

  it('a metadata key of 64 characters is accepted', async () => {
    const { body: session } = await createSession();
    const key = 'm'.repeat(64);
    const response = await patch(session.id, { metadata: { [key]: 1 } });
    expect(response.status).toBe(200);
    expect(response.body.metadata).toEqual({ [key]: 1 });
  });

  it('a metadata key of 65 characters is a 400 naming that key', async () => {
    const { body: session } = await createSession();
    const key = 'm'.repeat(65);
    expectInvalid(await patch(session.id, { metadata: { [key]: 1 } }), { in: 'body', pointer: `/metadata/${key}`, message: /64/ });
  });

  it('an empty metadata key is a 400 naming it (/metadata/)', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { metadata: { '': 1 } }), { in: 'body', pointer: '/metadata/' });
  });

  it('a metadata number too large for JSON (1e400) is a 400 naming it', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"metadata":{"big":-1e400}}'), { in: 'body', pointer: '/metadata/big' });
  });

  it('a metadata key named __proto__ merges as an ordinary key', async () => {
    const { body: session } = await createSession({ metadata: { a: 1 } });
    const response = await patchRaw(session.id, '{"metadata":{"__proto__":{"x":1}}}');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text).metadata).toEqual(JSON.parse('{"a":1,"__proto__":{"x":1}}'));
  });

  it('a rejected metadata patch leaves the stored metadata unchanged', async () => {
    const { body: session } = await createSession({ metadata: keys(50) });
    await patch(session.id, { metadata: { key0: 'changed', extra: 1 } });
    const response = await service.api.get(`/sessions/${session.id}`);
    expect(response.body.metadata).toEqual(keys(50));
  });
});

describe('PATCH /sessions/{id}: strings PostgreSQL cannot store', () => {
  it('a metadata value with a NUL character is a 400 naming that value', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"metadata":{"note":"a\\u0000b"}}'), { in: 'body', pointer: '/metadata/note' });
  });

  it('a metadata value with a lone surrogate is a 400 naming that value', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"metadata":{"note":"\\udbff"}}'), { in: 'body', pointer: '/metadata/note' });
  });

  it('a metadata key with a NUL character is a 400 naming that key', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"metadata":{"a\\u0000b":1}}'), { in: 'body', pointer: '/metadata/a\u0000b' });
  });

  it('a metadata key with a lone surrogate is a 400 naming that key', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"metadata":{"a\\ud800":1}}'), { in: 'body', pointer: '/metadata/a\ud800' });
  });

  it('a metadata key with a NUL character is a 400 naming that key even when its value is null (a removal)', async () => {
    const { body: session } = await createSession({ metadata: { a: 1 } });
    expectInvalid(await patchRaw(session.id, '{"metadata":{"a\\u0000":null}}'), { in: 'body', pointer: '/metadata/a\u0000' });
  });

  it('a metadata key with a lone surrogate is a 400 naming that key even when its value is null (a removal)', async () => {
    const { body: session } = await createSession({ metadata: { a: 1 } });
    expectInvalid(await patchRaw(session.id, '{"metadata":{"a\\udc00":null}}'), { in: 'body', pointer: '/metadata/a\udc00' });
  });

  it('a nested metadata value with a NUL character merged into existing metadata is a 400 naming the nested value', async () => {
    const { body: session } = await createSession({ metadata: { outer: { keep: 1 } } });
    expectInvalid(await patchRaw(session.id, '{"metadata":{"outer":{"inner":"\\u0000"}}}'), {
      in: 'body',
      pointer: '/metadata/outer/inner',
    });
  });

  it('a nested metadata value with a lone surrogate is a 400 naming the nested value', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"metadata":{"outer":{"inner":["ok","x\\udc00"]}}}'), {
      in: 'body',
      pointer: '/metadata/outer/inner/1',
    });
  });

  it('a nested metadata key with a NUL character is a 400 naming the nested key', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"metadata":{"outer":{"x\\u0000":1}}}'), {
      in: 'body',
      pointer: '/metadata/outer/x\u0000',
    });
  });

  it('a nested metadata key with a lone surrogate is a 400 naming the nested key', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patchRaw(session.id, '{"metadata":{"outer":{"x\\ud800":1}}}'), {
      in: 'body',
      pointer: '/metadata/outer/x\ud800',
    });
  });
});

describe('PATCH /sessions/{id}: fields a patch may not carry', () => {
  it('an empty patch {} is a 400 naming the body', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, {}), { in: 'body', pointer: '', message: /at least 1/ });
  });

  it.each([
    ['id', randomUUID()],
    ['user_id', 'someone_else'],
    ['created_at', '2020-01-01T00:00:00.000Z'],
    ['updated_at', '2020-01-01T00:00:00.000Z'],
  ])('the read-only field %s is a 400 saying it is read-only', async (field, value) => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { [field]: value }), { in: 'body', pointer: `/${field}`, message: /read-only/ });
  });

  it('a read-only field next to a valid change rejects the whole patch', async () => {
    const { body: session } = await createSession({ title: 'Unchanged' });
    expectInvalid(await patch(session.id, { title: 'Changed', user_id: 'thief' }), { in: 'body', pointer: '/user_id', message: /read-only/ });
    expect((await service.api.get(`/sessions/${session.id}`)).body).toMatchObject({ title: 'Unchanged', user_id: session.user_id });
  });

  it('an unknown field is a 400 naming it', async () => {
    const { body: session } = await createSession();
    expectInvalid(await patch(session.id, { colour: 'blue' }), { in: 'body', pointer: '/colour', message: /not a known field/ });
  });

  it('an unknown field next to a valid change rejects the whole patch (never silently dropped)', async () => {
    const { body: session } = await createSession({ title: 'Unchanged' });
    expect((await patch(session.id, { title: 'Changed', colour: 'blue' })).status).toBe(400);
    expect((await service.api.get(`/sessions/${session.id}`)).body.title).toBe('Unchanged');
  });
});

describe('PATCH /sessions/{id}: media types', () => {
  it('application/merge-patch+json is accepted', async () => {
    const { body: session } = await createSession();
    const response = await patch(session.id, { title: 'Merge patch' }, { contentType: 'application/merge-patch+json' });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe('Merge patch');
  });

  it('application/json is accepted', async () => {
    const { body: session } = await createSession();
    const response = await patch(session.id, { title: 'Plain JSON' }, { contentType: 'application/json' });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe('Plain JSON');
  });
});

describe('PATCH /sessions/{id}: timestamps and ETags', () => {
  it('updated_at changes on every successful patch and created_at never does', async () => {
    const { body: session } = await createSession();
    let previous = session.updated_at as string;
    for (const body of [{ title: 'one' }, { title: 'two' }, { status: 'archived' }, { metadata: { x: 1 } }, { is_active: false }]) {
      const response = await patch(session.id, body);
      expect(response.status).toBe(200);
      expect(response.body.created_at).toBe(session.created_at);
      expect(Date.parse(response.body.updated_at)).toBeGreaterThan(Date.parse(previous));
      previous = response.body.updated_at;
    }
  });

  it('updated_at changes even when the patch sets the values the session already has', async () => {
    const { body: session } = await createSession({ title: 'Same' });
    const response = await patch(session.id, { title: 'Same' });
    expect(response.status).toBe(200);
    expect(Date.parse(response.body.updated_at)).toBeGreaterThan(Date.parse(session.updated_at));
  });

  it('the ETag changes on every successful patch', async () => {
    const created = await createSession();
    const seen = new Set([created.headers.get('etag')]);
    for (const body of [{ title: 'a' }, { title: 'b' }, { metadata: { n: 1 } }]) {
      const response = await patch(created.body.id, body);
      const etag = response.headers.get('etag');
      expect(etag).toMatch(/^"[^"]+"$/);
      expect(seen.has(etag)).toBe(false);
      seen.add(etag);
    }
  });

  it('the ETag of a patch is the one a GET then answers', async () => {
    const { body: session } = await createSession();
    const patched = await patch(session.id, { title: 'Tagged' });
    const fetched = await service.api.get(`/sessions/${session.id}`);
    expect(fetched.headers.get('etag')).toBe(patched.headers.get('etag'));
    expect(fetched.body).toEqual(patched.body);
  });

  it('a rejected patch changes neither updated_at nor the ETag', async () => {
    const created = await createSession();
    expect((await patch(created.body.id, { title: '' })).status).toBe(400);
    const fetched = await service.api.get(`/sessions/${created.body.id}`);
    expect(fetched.body.updated_at).toBe(created.body.updated_at);
    expect(fetched.headers.get('etag')).toBe(created.headers.get('etag'));
  });
});

describe('PATCH /sessions/{id}: If-Match', () => {
  it('If-Match with the current ETag applies the patch', async () => {
    const created = await createSession();
    const response = await patch(created.body.id, { title: 'Matched' }, { headers: { 'If-Match': created.headers.get('etag')! } });
    expect(response.status).toBe(200);
    expect(response.body.title).toBe('Matched');
  });

  it('If-Match: * applies the patch to an existing session', async () => {
    const created = await createSession();
    const response = await patch(created.body.id, { title: 'Star' }, { headers: { 'If-Match': '*' } });
    expect(response.status).toBe(200);
  });

  it('If-Match with an outdated ETag is a 412 problem and changes nothing', async () => {
    const created = await createSession({ title: 'First' });
    const stale = created.headers.get('etag')!;
    expect((await patch(created.body.id, { title: 'Second' })).status).toBe(200);
    const response = await patch(created.body.id, { title: 'Lost update' }, { headers: { 'If-Match': stale } });
    expect(response.status).toBe(412);
    expect(response.body.type).toBe('/problems/precondition-failed');
    expect((await service.api.get(`/sessions/${created.body.id}`)).body.title).toBe('Second');
  });

  it('If-Match with a list that contains the current ETag applies the patch', async () => {
    const created = await createSession();
    const header = `"12345678", ${created.headers.get('etag')}`;
    expect((await patch(created.body.id, { title: 'Listed' }, { headers: { 'If-Match': header } })).status).toBe(200);
  });

  it('If-Match uses the strong comparison: a weak W/ ETag is a 412', async () => {
    const created = await createSession({ title: 'Unchanged' });
    const header = `W/${created.headers.get('etag')}`;
    const response = await patch(created.body.id, { title: 'Weak' }, { headers: { 'If-Match': header } });
    expect(response.status).toBe(412);
    expect((await service.api.get(`/sessions/${created.body.id}`)).body.title).toBe('Unchanged');
  });

  it('If-Match with an outdated ETag on a metadata patch is a 412 and the metadata is unchanged', async () => {
    const created = await createSession({ metadata: { v: 1 } });
    const stale = created.headers.get('etag')!;
    await patch(created.body.id, { metadata: { v: 2 } });
    const response = await patch(created.body.id, { metadata: { v: 3 } }, { headers: { 'If-Match': stale } });
    expect(response.status).toBe(412);
    expect((await service.api.get(`/sessions/${created.body.id}`)).body.metadata).toEqual({ v: 2 });
  });

  it('If-Match on an unknown id is a 404, not a 412', async () => {
    const response = await patch(randomUUID(), { title: 'x' }, { headers: { 'If-Match': '"1"' } });
    expect(response.status).toBe(404);
  });
});

describe('PATCH /sessions/{id}: concurrent writes', () => {
  it('concurrent patches of different metadata keys all land (no lost update)', async () => {
    const { body: session } = await createSession({ metadata: { base: true } });
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, index) => patch(session.id, { metadata: { [`k${index}`]: index } })),
    );
    for (const response of responses) expect(response.status).toBe(200);
    const { body } = await service.api.get(`/sessions/${session.id}`);
    expect(body.metadata).toEqual({ base: true, ...Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`k${index}`, index])) });
  });

  it('concurrent patches each get a different ETag', async () => {
    const { body: session } = await createSession();
    const responses = await Promise.all(Array.from({ length: 6 }, (_, index) => patch(session.id, { title: `t${index}` })));
    expect(new Set(responses.map((response) => response.headers.get('etag'))).size).toBe(6);
  });
});

describe('PATCH /sessions/{id}: which session', () => {
  it('an unknown id is a 404 not-found problem', async () => {
    const id = randomUUID();
    const response = await patch(id, { title: 'Nobody' });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ type: '/problems/not-found', instance: `/api/v1/sessions/${id}` });
  });

  it('an unknown id with a metadata patch is a 404 not-found problem', async () => {
    const response = await patch(randomUUID(), { metadata: { a: 1 } });
    expect(response.status).toBe(404);
    expect(response.body.type).toBe('/problems/not-found');
  });

  it('a malformed id is a 400 naming /id in path', async () => {
    expectInvalid(await patch('not-a-uuid', { title: 'x' }), { in: 'path', pointer: '/id' });
  });

  it('a soft-deleted session can still be patched', async () => {
    const { body: session } = await createSession();
    await service.api.delete(`/sessions/${session.id}`);
    const response = await patch(session.id, { title: 'Edited while deleted' });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ title: 'Edited while deleted', is_active: false });
  });
});

describe('PATCH /sessions/{id}: problem documents', () => {
  it('a validation problem carries type, title, status, detail, instance, error, timestamp, request_id and errors[{in, pointer, message}]', async () => {
    const { body: session } = await createSession();
    const response = await patch(session.id, { id: randomUUID() }, { headers: { 'X-Request-Id': 'patch-test-7' } });
    expect(response.status).toBe(400);
    expect(Object.keys(response.body)).toEqual(expect.arrayContaining([...problemMembers, 'errors']));
    expect(response.body).toMatchObject({
      type: '/problems/validation-failed',
      title: 'Validation failed',
      status: 400,
      instance: `/api/v1/sessions/${session.id}`,
      error: 'Validation failed',
      request_id: 'patch-test-7',
    });
    expect(response.body.detail).toMatch(/read-only/);
    expect(response.body.errors).toEqual([{ in: 'body', pointer: '/id', message: expect.stringMatching(/read-only/) }]);
  });
});
