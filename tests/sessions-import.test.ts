/**
 * POST /sessions/import (SPEC.md, "Fork, export and import"): a JSON Lines document into a new
 * session, in one transaction, validated line by line with the API's own rules; and the round
 * trip, export → import, giving the same conversation.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { expectProblem, messagesOf, storedMessages, streaming, text, user } from './support/messages.ts';
import { startTestService, useTestService } from './support/service.ts';
import { HS_SECRET, hsToken } from './support/tokens.ts';

const service = useTestService({ MAX_MESSAGES_PER_SESSION: '10000' });
const messages = messagesOf(service);

const importRaw = (raw: string | Uint8Array, headers: Record<string, string> = {}) =>
  service.api.request('POST', '/sessions/import', { raw, contentType: 'application/jsonl', headers });
const jsonl = (...lines: unknown[]) => lines.map((line) => JSON.stringify(line)).join('\n') + '\n';
const sessionLine = (extra: Record<string, unknown> = {}) => ({ user_id: `imp_${randomUUID()}`, title: 'Imported', ...extra });

async function importOk(raw: string | Uint8Array) {
  const response = await importRaw(raw);
  expect(response.status, response.text.slice(0, 500)).toBe(201);
  return response;
}

async function allMessages(sessionId: string) {
  const response = await messages.list(sessionId, 'order=asc&limit=100');
  return response.body.items as any[];
}

describe('import', () => {
  it('creates a new session with its messages: 201, Location and ETag', async () => {
    const response = await importOk(jsonl(sessionLine(), user('one'), { role: 'assistant', content: [text('two')] }));
    expect(response.headers.get('location')).toBe(`/api/v1/sessions/${response.body.id}`);
    expect(response.headers.get('etag')).toBe((await messages.getSession(response.body.id)).headers.get('etag'));
    expect(response.body).toMatchObject({ title: 'Imported', message_count: 2, is_active: true, status: 'active' });
    const items = await allMessages(response.body.id);
    expect(items.map((message) => [message.seq, message.role, message.content[0].text])).toEqual([
      [1, 'user', 'one'],
      [2, 'assistant', 'two'],
    ]);
    expect(items[1].parent_id).toBe(items[0].id);
  });

  it('ignores the fields the server sets and gives them anew', async () => {
    const old = randomUUID();
    const response = await importOk(
      jsonl(
        sessionLine({ id: old, message_count: 99, last_message_at: '2000-01-01T00:00:00.000Z', created_at: '2000-01-01T00:00:00.000Z', is_active: false, current_message_id: old }),
        { ...user('m'), id: randomUUID(), session_id: old, seq: 42, created_at: '2000-01-01T00:00:00.000Z', updated_at: '2000-01-01T00:00:00.000Z', sibling_count: 3, sibling_index: 2 },
      ),
    );
    expect(response.body.id).not.toBe(old);
    expect(response.body.message_count).toBe(1);
    expect(response.body.is_active).toBe(true);
    expect(Date.parse(response.body.created_at)).toBeGreaterThan(Date.parse('2020-01-01'));
    const [message] = await allMessages(response.body.id);
    expect(message).toMatchObject({ session_id: response.body.id, seq: 1 });
  });

  it('maps parent_ids to the new ids, so branches survive; null starts a new root', async () => {
    const [q, a1, a2, follow, root] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const response = await importOk(
      jsonl(
        sessionLine(),
        { ...user('q'), id: q, parent_id: null },
        { role: 'assistant', content: [text('a1')], id: a1, parent_id: q },
        { role: 'assistant', content: [text('a2')], id: a2, parent_id: q },
        { ...user('follow-up'), id: follow, parent_id: a1 },
        { ...user('another root'), id: root, parent_id: null },
      ),
    );
    const stored = await storedMessages(service, response.body.id);
    const idOf = (value: string) => stored.find((row) => row.content[0]!.text === value)!.id;
    const parentOf = (value: string) => stored.find((row) => row.content[0]!.text === value)!.parent_id;
    expect(parentOf('q')).toBeNull();
    expect(parentOf('a1')).toBe(idOf('q'));
    expect(parentOf('a2')).toBe(idOf('q'));
    expect(parentOf('follow-up')).toBe(idOf('a1'));
    expect(parentOf('another root')).toBeNull();
    expect(stored.map((row) => row.id)).not.toContain(q);
  });

  it('takes the file\'s status once the messages are in (a closed session too)', async () => {
    const response = await importOk(jsonl(sessionLine({ status: 'closed' }), user('kept')));
    expect(response.body).toMatchObject({ status: 'closed', message_count: 1 });
  });

  it('trims the title and checks metadata as a create does', async () => {
    const response = await importOk(jsonl(sessionLine({ title: '  padded  ', metadata: { model: 'x' } })));
    expect(response.body).toMatchObject({ title: 'padded', metadata: { model: 'x' } });
  });

  it('tolerates a byte order mark, CRLF line ends, blank lines and no final newline', async () => {
    const body = `\uFEFF${JSON.stringify(sessionLine())}\r\n\r\n${JSON.stringify(user('a'))}\r\n   \n${JSON.stringify(user('b'))}`;
    const response = await importOk(body);
    expect((await allMessages(response.body.id)).map((message) => message.content[0].text)).toEqual(['a', 'b']);
  });

  it('imports 10,000 lines in one request', async () => {
    const lines = [sessionLine(), ...Array.from({ length: 9_999 }, (_, i) => user(`line ${i + 2}`))];
    const response = await importOk(jsonl(...lines));
    expect(response.body.message_count).toBe(9_999);
  });

  it('stores message text exactly as sent (no trimming, every character)', async () => {
    const value = '  tabs\tand\nnewlines, émoji 🎉, RTL שלום  ';
    const response = await importOk(jsonl(sessionLine(), user(value)));
    expect((await allMessages(response.body.id))[0].content[0].text).toBe(value);
  });
});

describe('import: a bad line is a 400 naming it, and nothing is created', () => {
  async function sessionsOf(userId: string) {
    return withClient(service.databaseUrl, async (client) => {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM chat_sessions WHERE user_id = $1', [userId]);
      return rows[0].n as number;
    });
  }

  it('an invalid field on a message line names the line and the field', async () => {
    const session = sessionLine();
    const response = await importRaw(jsonl(session, user('ok'), { role: 'robot', content: [text('x')] }));
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ in: 'body', line: 3, pointer: '/role' });
    expect(response.body.detail).toMatch(/^line 3: /);
    expect(await sessionsOf(session.user_id as string)).toBe(0);
  });

  it('the rules beyond the schema apply as on appends (a completed message without content)', async () => {
    const response = await importRaw(jsonl(sessionLine(), { role: 'user', content: [] }));
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ line: 2, pointer: '/content' });
  });

  it('an unknown field is a 400 naming it', async () => {
    const response = await importRaw(jsonl(sessionLine(), { ...user('x'), colour: 'red' }));
    expect(response.body.errors[0]).toMatchObject({ line: 2, pointer: '/colour' });
  });

  it('a session line breaking a rule names line 1', async () => {
    const response = await importRaw(jsonl(sessionLine({ status: 'gone' })));
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ line: 1, pointer: '/status' });
  });

  it('a first line that is not a session (no user_id) is a 400 naming line 1', async () => {
    const response = await importRaw(jsonl(user('no session line')));
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ line: 1 });
  });

  it('an empty document is a 400: line 1 must be the session', async () => {
    const response = await importRaw('\n\n');
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ line: 1, pointer: '' });
  });

  it('a parent_id naming a later line is a 400 with the line number', async () => {
    const later = randomUUID();
    const response = await importRaw(jsonl(sessionLine(), { ...user('a'), parent_id: later }, { ...user('b'), id: later }));
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ line: 2, pointer: '/parent_id' });
  });

  it('a parent_id naming no line is a 400 with the line number', async () => {
    const response = await importRaw(jsonl(sessionLine(), user('a'), { ...user('b'), parent_id: randomUUID() }));
    expect(response.body.errors[0]).toMatchObject({ line: 3, pointer: '/parent_id' });
  });

  it('two lines with the same id are a 400 naming the second', async () => {
    const id = randomUUID();
    const response = await importRaw(jsonl(sessionLine(), { ...user('a'), id }, { ...user('b'), id }));
    expect(response.body.errors[0]).toMatchObject({ line: 3, pointer: '/id' });
  });

  it('a truncated last line is a 400 malformed-json naming it', async () => {
    const whole = jsonl(sessionLine(), user('a'), user('b'));
    const response = await importRaw(whole.slice(0, whole.length - 10));
    expectProblem(response, 400, 'malformed-json');
    expect(response.body.errors[0]).toMatchObject({ line: 3 });
  });

  it('a line that is not UTF-8 is a 400 naming it', async () => {
    const head = Buffer.from(jsonl(sessionLine(), user('a')));
    const bad = Buffer.concat([head, Buffer.from('{"role":"user","content":[{"type":"text","text":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}\n')]);
    const response = await importRaw(bad);
    expectProblem(response, 400, 'malformed-json');
    expect(response.body.errors[0]).toMatchObject({ line: 3 });
  });

  it('a line that is JSON but not an object is a 400 naming it', async () => {
    const response = await importRaw(`${JSON.stringify(sessionLine())}\n[1,2]\n`);
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ line: 2 });
  });

  it('a NUL character in text is a 400 naming the line and the field', async () => {
    const response = await importRaw(jsonl(sessionLine(), user('a\u0000b')));
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ line: 2, pointer: '/content/0/text' });
  });

  it('a content over 1 MiB is a 413 naming the line', async () => {
    const response = await importRaw(jsonl(sessionLine(), user('x'.repeat(1024 * 1024 + 1))));
    expectProblem(response, 413, 'content-too-large');
    expect(response.body.detail).toMatch(/^line 2: /);
  });

  it('another media type is a 415', async () => {
    const response = await service.api.request('POST', '/sessions/import', { raw: jsonl(sessionLine()), contentType: 'application/json' });
    expectProblem(response, 415, 'unsupported-media-type');
  });
});

describe('import: limits', () => {
  it('a body over IMPORT_BODY_LIMIT is a 413', async () => {
    const small = await startTestService({ IMPORT_BODY_LIMIT: '2048' });
    try {
      const response = await small.api.request('POST', '/sessions/import', {
        raw: jsonl(sessionLine(), user('x'.repeat(4096))),
        contentType: 'application/jsonl',
      });
      expectProblem(response, 413, 'payload-too-large');
    } finally {
      await small.stop();
    }
  });

  it('more messages than MAX_MESSAGES_PER_SESSION is a 409 session-full, nothing created', async () => {
    const small = await startTestService({ MAX_MESSAGES_PER_SESSION: '3' });
    try {
      const response = await small.api.request('POST', '/sessions/import', {
        raw: jsonl(sessionLine(), user('1'), user('2'), user('3'), user('4')),
        contentType: 'application/jsonl',
      });
      expectProblem(response, 409, 'session-full');
      expect(response.body.detail).toMatch(/^line 5: /);
    } finally {
      await small.stop();
    }
  });
});

describe('import: whose session it is', () => {
  it('under a user token the session is the caller\'s, whatever the file says; a service token keeps the file\'s user_id', async () => {
    const secured = await startTestService({ AUTH_MODE: 'jwt', JWT_SECRET: HS_SECRET });
    try {
      const send = async (token: string, userId: string) =>
        secured.api.request('POST', '/sessions/import', {
          raw: jsonl({ user_id: userId }),
          contentType: 'application/jsonl',
          headers: { Authorization: `Bearer ${token}` },
        });
      const mine = await send(await hsToken({ sub: 'alice' }), 'mallory');
      expect(mine.status).toBe(201);
      expect(mine.body.user_id).toBe('alice');
      const service = await send(await hsToken({ sub: 'svc', role: 'service_role' }), 'bob');
      expect(service.status).toBe(201);
      expect(service.body.user_id).toBe('bob');
    } finally {
      await secured.stop();
    }
  });
});

describe('import: Idempotency-Key', () => {
  it('the same key and document replay the first response and create nothing more', async () => {
    const body = jsonl(sessionLine(), user('once'));
    const key = randomUUID();
    const first = await importRaw(body, { 'Idempotency-Key': key });
    const second = await importRaw(body, { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
  });

  it('the same key with another document is a 422', async () => {
    const key = randomUUID();
    await importRaw(jsonl(sessionLine()), { 'Idempotency-Key': key });
    expectProblem(await importRaw(jsonl(sessionLine()), { 'Idempotency-Key': key }), 422, 'idempotency-key-reused');
  });
});

describe('round trip: export → import gives the same conversation', () => {
  const everyPart = [
    { type: 'text', text: 'Hello **world**\n' },
    { type: 'image', url: 'https://example.com/a.png', media_type: 'image/png', detail: 'high' },
    { type: 'image', file_id: 'file_1' },
    { type: 'file', url: 'https://example.com/a.pdf', filename: 'a.pdf', media_type: 'application/pdf' },
    { type: 'file', file_id: 'file_2' },
    { type: 'tool_call', call_id: 'call_1', name: 'search.docs', arguments: { q: 'x', n: 1.5, deep: { list: [1, null, true] } } },
    { type: 'tool_result', call_id: 'call_1', output: '{"ok":true}', is_error: false },
    { type: 'reasoning', text: 'thinking', encrypted: 'opaque' },
    { type: 'refusal', text: 'no' },
    { type: 'source', url: 'https://example.com/doc', document_id: 'doc_7', title: 'Doc', snippet: 'snip', score: 0.75 },
  ];
  /** What must survive: everything but what the server sets. */
  const conversation = (items: any[]) => {
    const index = new Map(items.map((message, i) => [message.id, i]));
    return items.map(({ id, session_id, seq, created_at, updated_at, parent_id, ...rest }) => ({
      ...rest,
      parent: parent_id === null ? null : index.get(parent_id),
    }));
  };

  it('every part type, status and field; a branched tree keeps its shape', async () => {
    const source = await messages.session({ title: 'Round trip', status: 'archived', metadata: { model: 'gpt-4o', nested: { a: [1, 2] } } });
    const [, question] = await messages.appendOk(source.id, [
      { role: 'system', content: [text('Be brief.')] },
      { role: 'user', content: everyPart, metadata: { client: 'web' } },
    ]);
    await messages.appendOk(source.id, [
      { role: 'assistant', model: 'gpt-4o', finish_reason: 'stop', usage: { input_tokens: 10, output_tokens: 2, cached_input_tokens: 1, reasoning_tokens: 0 }, content: [text('First.')] },
    ]);
    await messages.appendOk(source.id, [{ role: 'assistant', status: 'failed', finish_reason: 'error', content: [] }]);
    await messages.appendOk(source.id, [streaming([text('streaming…')])]);
    // A regeneration of the answer to the question: a second branch, as branching stores it.
    await withClient(service.databaseUrl, (client) =>
      client.query(
        `INSERT INTO chat_messages (session_id, seq, id, parent_id, role, content, content_bytes, status, model)
         VALUES ($1, 6, $2, $3, 'assistant', '[{"type":"text","text":"Second."}]', 34, 'completed', 'gpt-4o')`,
        [source.id, randomUUID(), question.id],
      ),
    );

    const exported = await service.api.get(`/sessions/${source.id}/export`);
    const imported = await importOk(exported.text);
    const reread = await service.api.get(`/sessions/${source.id}`);
    // current_message_id is given anew (SPEC.md: the file's is ignored): the last message imported.
    const { id, created_at, updated_at, last_message_at, message_count, current_message_id: _current, ...sessionRest } = reread.body;
    expect(imported.body).toMatchObject(sessionRest);
    expect(imported.body.id).not.toBe(id);
    const again = await service.api.get(`/sessions/${imported.body.id}/export`);
    const lines = (text: string) => text.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(conversation(lines(again.text).slice(1))).toEqual(conversation(lines(exported.text).slice(1)));
    expect(lines(again.text).slice(1).map((message: any) => message.id)).not.toContain(question.id);
  });

  it('an export of an empty session imports as an empty session', async () => {
    const source = await messages.session({ title: 'Empty' });
    const exported = await service.api.get(`/sessions/${source.id}/export`);
    const imported = await importOk(exported.text);
    expect(imported.body).toMatchObject({ title: 'Empty', message_count: 0 });
  });
});
