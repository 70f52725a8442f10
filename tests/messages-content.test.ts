/**
 * Content parts (SPEC.md, "The resource: Message"): every part type, every rule of each, and
 * text stored byte for byte — except what PostgreSQL cannot store, refused naming the field.
 */
import { describe, expect, it } from 'vitest';
import { expectProblem, messagesOf, storedMessages, type Part } from './support/messages.ts';
import { expectInvalid } from './support/problems.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();
const messages = messagesOf(service);

/** Appends one message holding `parts` after a valid text part, so the part under test is /content/1. */
const appendParts = async (...parts: Part[]) => {
  const session = await messages.session();
  return { session, response: await messages.append(session.id, [{ role: 'assistant', content: [{ type: 'text', text: 'lead' }, ...parts] }]) };
};
const expectPartInvalid = async (part: Part, field: string, message?: RegExp) => {
  const { response } = await appendParts(part);
  expectInvalid(response, { in: 'body', pointer: `/messages/0/content/1${field}`, message });
};

const url = 'https://files.example.com/q3-budget.pdf';
const validParts: [string, Part][] = [
  ['text', { type: 'text', text: 'The budget was approved.' }],
  ['image by url', { type: 'image', url: 'https://img.example.com/a.png', media_type: 'image/png', detail: 'high' }],
  ['image by file_id', { type: 'image', file_id: 'file_8Kq2', detail: 'auto' }],
  ['file by url', { type: 'file', url, filename: 'q3 budget.pdf', media_type: 'application/pdf' }],
  ['file by file_id', { type: 'file', file_id: 'file-1' }],
  ['tool_call', { type: 'tool_call', call_id: 'call_1', name: 'search.documents-v2', arguments: { query: 'Q3', n: 3, deep: { list: [1, 'a', null, true] } } }],
  ['tool_call with empty arguments', { type: 'tool_call', call_id: 'c', name: 'x', arguments: {} }],
  ['tool_result', { type: 'tool_result', call_id: 'call_1', output: '[{"id":"doc_7"}]' }],
  ['tool_result with is_error', { type: 'tool_result', call_id: 'call_1', output: 'timeout', is_error: true }],
  ['reasoning with text', { type: 'reasoning', text: 'Look at the minutes first.' }],
  ['reasoning encrypted only', { type: 'reasoning', encrypted: 'gAAAAB...' }],
  ['reasoning with both', { type: 'reasoning', text: 'x', encrypted: 'y' }],
  ['refusal', { type: 'refusal', text: 'I cannot help with that.' }],
  ['source by url', { type: 'source', url, title: 'Budget minutes', snippet: 'approved', score: 0.87 }],
  ['source by document_id', { type: 'source', document_id: 'doc 7', score: -1.5e-3 }],
  ['source with both', { type: 'source', url, document_id: 'doc_7' }],
];

describe('every part type is stored and returned as sent', () => {
  it.each(validParts)('%s', async (_, part) => {
    const { session, response } = await appendParts(part);
    expect(response.status, response.text).toBe(201);
    expect(response.body.items[0].content[1]).toEqual(part);
    const read = await messages.get(session.id, response.body.items[0].id);
    expect(read.body.content[1]).toEqual(part);
  });

  it('one message may mix every type, in order', async () => {
    const { response } = await appendParts(...validParts.map(([, part]) => part));
    expect(response.status, response.text).toBe(201);
    expect(response.body.items[0].content.slice(1)).toEqual(validParts.map(([, part]) => part));
  });

  it('a tool_result without is_error is returned without it (no default is stored)', async () => {
    const part = { type: 'tool_result', call_id: 'c', output: 'ok' };
    const { response } = await appendParts(part);
    expect(response.body.items[0].content[1]).toEqual(part);
  });
});

describe('a part that breaks its rules is a 400 naming it', () => {
  it('an unknown type names /type and lists the known ones', async () => {
    await expectPartInvalid({ type: 'video', url }, '/type', /text, image/);
  });

  it('a missing type names /type', async () => {
    await expectPartInvalid({ text: 'no type' }, '/type');
  });

  it.each([
    ['a string', 'just text'],
    ['a number', 42],
    ['null', null],
    ['an array', [{ type: 'text', text: 'x' }]],
  ])('a part that is %s, not an object, names the part', async (_, part) => {
    await expectPartInvalid(part as unknown as Part, '', /object/);
  });

  it.each([
    ['text', { type: 'text', text: 'x', lang: 'en' }, '/lang'],
    ['image', { type: 'image', url, alt: 'x' }, '/alt'],
    ['tool_call', { type: 'tool_call', call_id: 'c', name: 'n', arguments: {}, id: 'x' }, '/id'],
    ['tool_result', { type: 'tool_result', call_id: 'c', output: 'o', error: true }, '/error'],
    ['source', { type: 'source', url, author: 'x' }, '/author'],
  ])('an unknown field of a %s part names it', async (_, part, field) => {
    await expectPartInvalid(part, field);
  });

  it.each([
    ['text', { type: 'text' }, '/text'],
    ['refusal', { type: 'refusal' }, '/text'],
    ['tool_call without name', { type: 'tool_call', call_id: 'c', arguments: {} }, '/name'],
    ['tool_call without call_id', { type: 'tool_call', name: 'n', arguments: {} }, '/call_id'],
    ['tool_call without arguments', { type: 'tool_call', call_id: 'c', name: 'n' }, '/arguments'],
    ['tool_result without output', { type: 'tool_result', call_id: 'c' }, '/output'],
    ['tool_result without call_id', { type: 'tool_result', output: 'o' }, '/call_id'],
  ])('a missing field of a %s part names it', async (_, part, field) => {
    await expectPartInvalid(part, field);
  });

  it.each([
    ['an image with both url and file_id', { type: 'image', url, file_id: 'f' }, /exactly one of url and file_id/],
    ['an image with neither', { type: 'image', detail: 'low' }, /exactly one of url and file_id/],
    ['a file with both url and file_id', { type: 'file', url, file_id: 'f' }, /exactly one of url and file_id/],
    ['a file with neither', { type: 'file', filename: 'a.pdf' }, /exactly one of url and file_id/],
    ['a reasoning part with neither text nor encrypted', { type: 'reasoning' }, /text or encrypted/],
    ['a source with neither url nor document_id', { type: 'source', title: 't' }, /url or document_id/],
  ])('%s names the part', async (_, part, message) => {
    await expectPartInvalid(part, '', message);
  });

  it.each([
    ['a space', 'my tool'],
    ['a slash', 'a/b'],
    ['a non-ASCII letter', 'résumé'],
    ['129 characters', 'n'.repeat(129)],
    ['an empty name', ''],
  ])('a tool_call name with %s names /name', async (_, name) => {
    await expectPartInvalid({ type: 'tool_call', call_id: 'c', name, arguments: {} }, '/name');
  });

  it('a tool_call name of 128 characters is accepted', async () => {
    const { response } = await appendParts({ type: 'tool_call', call_id: 'c', name: 'n'.repeat(128), arguments: {} });
    expect(response.status, response.text).toBe(201);
  });

  it.each([
    ['a space', 'call 1'],
    ['256 characters', 'c'.repeat(256)],
    ['an empty id', ''],
    ['a non-ASCII character', 'call_é'],
  ])('a call_id with %s names /call_id', async (_, callId) => {
    await expectPartInvalid({ type: 'tool_call', call_id: callId, name: 'n', arguments: {} }, '/call_id');
  });

  it('a call_id of 255 visible ASCII characters is accepted', async () => {
    const { response } = await appendParts({ type: 'tool_result', call_id: '!'.repeat(255), output: 'o' });
    expect(response.status, response.text).toBe(201);
  });

  it.each([
    ['an array', []],
    ['a string', '{"q":1}'],
    ['null', null],
  ])('tool_call arguments that are %s name /arguments', async (_, args) => {
    await expectPartInvalid({ type: 'tool_call', call_id: 'c', name: 'n', arguments: args }, '/arguments');
  });

  it('tool_call arguments nested 64 levels are accepted, 65 are a 400 naming where', async () => {
    const nest = (levels: number) => {
      let value: Record<string, unknown> = {};
      for (let i = 1; i < levels; i++) value = { a: value };
      return value;
    };
    const ok = await appendParts({ type: 'tool_call', call_id: 'c', name: 'n', arguments: nest(64) });
    expect(ok.response.status, ok.response.text).toBe(201);
    const { response } = await appendParts({ type: 'tool_call', call_id: 'c', name: 'n', arguments: nest(65) });
    expect(response.status, response.text).toBe(400);
    expect(response.body.errors[0].pointer).toMatch(/^\/messages\/0\/content\/1\/arguments(\/a)+$/);
    expect(response.body.errors[0].message).toMatch(/64/);
  });

  it('a file_id with a space names /file_id', async () => {
    await expectPartInvalid({ type: 'image', file_id: 'file 1' }, '/file_id');
  });

  it.each([
    ['no subtype', 'image'],
    ['a space', 'image/ png'],
  ])('a media_type with %s names /media_type', async (_, mediaType) => {
    await expectPartInvalid({ type: 'image', url, media_type: mediaType }, '/media_type');
  });

  it('an unknown image detail names /detail', async () => {
    await expectPartInvalid({ type: 'image', url, detail: 'ultra' }, '/detail');
  });

  it.each([
    ['an empty filename', ''],
    ['a newline in the filename', 'a\nb.pdf'],
    ['256 characters', 'f'.repeat(256)],
  ])('a file with %s names /filename', async (_, filename) => {
    await expectPartInvalid({ type: 'file', url, filename }, '/filename');
  });

  it.each([
    ['a title of 501 characters', { title: 't'.repeat(501) }, '/title'],
    ['a snippet of 2,001 characters', { snippet: 's'.repeat(2001) }, '/snippet'],
    ['an empty document_id', { document_id: '' }, '/document_id'],
    ['a score that is a string', { score: '0.9' }, '/score'],
  ])('a source with %s names it', async (_, fields, field) => {
    await expectPartInvalid({ type: 'source', url, ...fields }, field);
  });

  it('a source with a title of 500 and a snippet of 2,000 characters is accepted', async () => {
    const { response } = await appendParts({ type: 'source', document_id: 'd', title: 't'.repeat(500), snippet: 's'.repeat(2000) });
    expect(response.status, response.text).toBe(201);
  });

  it('is_error that is not a boolean names /is_error', async () => {
    await expectPartInvalid({ type: 'tool_result', call_id: 'c', output: 'o', is_error: 'yes' }, '/is_error');
  });
});

describe('files and images are referenced, never embedded', () => {
  it.each([
    ['image', { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' }],
    ['file', { type: 'file', url: 'data:application/pdf;base64,JVBERi0=' }],
    ['source', { type: 'source', url: 'data:text/plain,hello' }],
  ])('a data: URL in a %s part is a 400 saying to reference the file', async (_, part) => {
    const { response } = await appendParts(part);
    expectInvalid(response, { in: 'body', pointer: '/messages/0/content/1/url', message: /data: URL/ });
    expect(response.body.errors[0].message).toMatch(/file_id/);
  });

  it.each([
    ['ftp:', 'ftp://files.example.com/a.png'],
    ['javascript:', 'javascript:alert(1)'],
    ['file:', 'file:///etc/passwd'],
    ['a relative URL', '/images/a.png'],
    ['no URL at all', 'not a url'],
  ])('a %s URL is a 400 naming /url', async (_, value) => {
    await expectPartInvalid({ type: 'image', url: value }, '/url');
  });

  it('http: and upper-case HTTPS: are accepted', async () => {
    const { response } = await appendParts({ type: 'image', url: 'http://a.example/x.png' }, { type: 'file', url: 'HTTPS://a.example/x.pdf' });
    expect(response.status, response.text).toBe(201);
  });

  it('a URL of 2,048 characters is accepted, 2,049 is a 400 naming /url', async () => {
    const prefix = 'https://a.example/';
    const ok = await appendParts({ type: 'image', url: prefix + 'a'.repeat(2048 - prefix.length) });
    expect(ok.response.status, ok.response.text).toBe(201);
    await expectPartInvalid({ type: 'image', url: prefix + 'a'.repeat(2049 - prefix.length) }, '/url', /2048/);
  });
});

describe('text is stored byte for byte', () => {
  const hostile: [string, string][] = [
    ['leading and trailing spaces', '   padded   '],
    ['newlines, CRLF and tabs', 'line 1\nline 2\r\n\tindented\n\n'],
    ['only whitespace', ' \n\t '],
    ['emoji, including ZWJ sequences and flags', '🎉 👩‍👩‍👧‍👦 🇫🇷 🏳️‍🌈'],
    ['right-to-left text and marks', 'مرحبا \u200fبالعالم\u200e עברית'],
    ['combining marks (not normalised)', 'e\u0301 vs \u00e9, Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇'],
    ['SQL', "'; DROP TABLE chat_messages; --"],
    ['quotes and backslashes', 'say "hi" \\ \\n \\u0000 \'x\''],
    ['markup', '<script>alert(1)</script> {{x}} ${x}'],
    ['control characters other than NUL', '\u0001\u0007\u001b[31m\u007f\u0085'],
    ['non-characters and private use', '\ufffe\uffff\ue000\u{10ffff}'],
    ['line and paragraph separators', 'a\u2028b\u2029c'],
    ['a byte order mark', '\ufeffBOM'],
    ['an empty string', ''],
  ];

  it.each(hostile)('%s', async (_, value) => {
    const { session, response } = await appendParts({ type: 'text', text: value });
    expect(response.status, response.text).toBe(201);
    expect(response.body.items[0].content[1].text).toBe(value);
    expect((await messages.get(session.id, response.body.items[0].id)).body.content[1].text).toBe(value);
    const [row] = await storedMessages(service, session.id);
    expect(row!.content[1]!.text).toBe(value);
  });

  it('every text field keeps its text: refusal, reasoning, tool_result output, source snippet, tool_call arguments', async () => {
    const value = ' 🎉\n\t"DROP TABLE" ';
    const parts = [
      { type: 'refusal', text: value },
      { type: 'reasoning', text: value, encrypted: value },
      { type: 'tool_result', call_id: 'c', output: value },
      { type: 'source', document_id: value, title: value, snippet: value },
      { type: 'tool_call', call_id: 'c', name: 'n', arguments: { [value]: value, list: [value] } },
    ];
    const { response } = await appendParts(...parts);
    expect(response.status, response.text).toBe(201);
    expect(response.body.items[0].content.slice(1)).toEqual(parts);
  });

  it('metadata keeps its strings exactly too', async () => {
    const session = await messages.session();
    const metadata = { note: '  spaced\n', '🔑': 'ok' };
    const [message] = await messages.appendOk(session.id, [{ role: 'user', content: [{ type: 'text', text: 'x' }], metadata }]);
    expect(message.metadata).toEqual(metadata);
  });
});

describe('what PostgreSQL cannot store is a 400 naming the field', () => {
  /** A message whose JSON text is written by hand, so that \u0000 and \ud800 escapes reach the server. */
  const rawAppend = async (contentJson: string, extra = '') => {
    const session = await messages.session();
    const raw = `{"messages":[{"role":"assistant","content":[{"type":"text","text":"lead"},${contentJson}]${extra}}]}`;
    return { session, response: await messages.appendRaw(session.id, raw) };
  };

  it.each([
    ['NUL in text', '{"type":"text","text":"a\\u0000b"}', '/messages/0/content/1/text'],
    ['a lone high surrogate in text', '{"type":"text","text":"a\\ud800b"}', '/messages/0/content/1/text'],
    ['a lone low surrogate in text', '{"type":"text","text":"\\udc00"}', '/messages/0/content/1/text'],
    ['a reversed surrogate pair in text', '{"type":"text","text":"\\udc00\\ud800"}', '/messages/0/content/1/text'],
    ['NUL in a refusal', '{"type":"refusal","text":"\\u0000"}', '/messages/0/content/1/text'],
    ['NUL in a tool_result output', '{"type":"tool_result","call_id":"c","output":"\\u0000"}', '/messages/0/content/1/output'],
    ['NUL in reasoning encrypted', '{"type":"reasoning","encrypted":"\\u0000"}', '/messages/0/content/1/encrypted'],
    ['a lone surrogate in a source title', '{"type":"source","document_id":"d","title":"\\ud800"}', '/messages/0/content/1/title'],
    ['NUL in a tool_call argument', '{"type":"tool_call","call_id":"c","name":"n","arguments":{"q":"a\\u0000"}}', '/messages/0/content/1/arguments/q'],
    [
      'a lone surrogate deep in tool_call arguments',
      '{"type":"tool_call","call_id":"c","name":"n","arguments":{"a":{"b":[1,{"c":"\\ud800"}]}}}',
      '/messages/0/content/1/arguments/a/b/1/c',
    ],
    ['NUL in a tool_call argument key', '{"type":"tool_call","call_id":"c","name":"n","arguments":{"k\\u0000":1}}', '/messages/0/content/1/arguments/k\u0000'],
  ])('%s', async (_, part, pointer) => {
    const { session, response } = await rawAppend(part);
    expectInvalid(response, { in: 'body', pointer, message: /NUL|surrogate/ });
    expect(await storedMessages(service, session.id)).toEqual([]);
  });

  it.each(['1e400', '-1e400'])('a source score of %s (not finite once parsed) is a 400 naming /score', async (score) => {
    const { session, response } = await rawAppend(`{"type":"source","document_id":"d","score":${score}}`);
    expectInvalid(response, { in: 'body', pointer: '/messages/0/content/1/score', message: /finite/ });
    expect(await storedMessages(service, session.id)).toEqual([]);
  });

  it('a number too large for JSON in tool_call arguments is a 400 naming it', async () => {
    const { response } = await rawAppend('{"type":"tool_call","call_id":"c","name":"n","arguments":{"big":[1e400]}}');
    expectInvalid(response, { in: 'body', pointer: '/messages/0/content/1/arguments/big/0', message: /finite/ });
  });

  it('NUL in metadata names /messages/0/metadata/…', async () => {
    const { response } = await rawAppend('{"type":"text","text":"ok"}', ',"metadata":{"note":{"deep":"\\u0000"}}');
    expectInvalid(response, { in: 'body', pointer: '/messages/0/metadata/note/deep', message: /NUL/ });
  });

  it('a lone surrogate in a metadata key names it', async () => {
    const { response } = await rawAppend('{"type":"text","text":"ok"}', ',"metadata":{"\\ud800":1}');
    expect(response.status, response.text).toBe(400);
    expect(response.body.errors[0].pointer).toMatch(/^\/messages\/0\/metadata\//);
  });

  it('a surrogate pair written as escapes is a valid character, stored as sent', async () => {
    const { response } = await rawAppend('{"type":"text","text":"\\ud83c\\udf89"}');
    expect(response.status, response.text).toBe(201);
    expect(response.body.items[0].content[1].text).toBe('🎉');
  });

  it('bytes that are not UTF-8 are a 400 malformed-json, never stored as replacement characters', async () => {
    const session = await messages.session();
    const before = Buffer.from('{"messages":[{"role":"user","content":[{"type":"text","text":"a');
    const raw = Buffer.concat([before, Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('b"}]}]}')]);
    const response = await messages.appendRaw(session.id, raw);
    expectProblem(response, 400, 'malformed-json');
    expect(response.body.detail).toMatch(/UTF-8/);
    expect(await storedMessages(service, session.id)).toEqual([]);
  });

  it('NUL in a model name is a 400 naming /messages/0/model', async () => {
    const { response } = await rawAppend('{"type":"text","text":"ok"}', ',"model":"gpt\\u0000"');
    expectInvalid(response, { in: 'body', pointer: '/messages/0/model' });
  });
});

describe('how many parts', () => {
  const parts = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'text', text: `part ${i}` }));

  it('64 parts are accepted', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [{ role: 'assistant', content: parts(64) }]);
    expect(message.content).toHaveLength(64);
  });

  it('65 parts are a 400 naming /messages/0/content', async () => {
    const session = await messages.session();
    expectInvalid(await messages.append(session.id, [{ role: 'assistant', content: parts(65) }]), {
      in: 'body',
      pointer: '/messages/0/content',
      message: /64/,
    });
  });
});
