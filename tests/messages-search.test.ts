/**
 * GET /messages/search (SPEC.md, "Search"): web-search syntax, what is searched, the filters,
 * isolation between callers, soft and hard deletes, snippets, order and paging, cursors bound to
 * the query, hostile q, and words of every language with the `simple` configuration.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RequestOptions } from './support/client.ts';
import { type MessageInput, messagesOf, type Part, text } from './support/messages.ts';
import { expectInvalid } from './support/problems.ts';
import { useTestService } from './support/service.ts';
import { AUDIENCE, HS_SECRET, hsToken, ISSUER } from './support/tokens.ts';

const service = useTestService({ AUTH_MODE: 'jwt', JWT_SECRET: HS_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });

const bearer = async (claims: Record<string, unknown>): Promise<RequestOptions> => ({
  headers: { Authorization: `Bearer ${await hsToken(claims)}` },
});

type Hit = { session_id: string; session_title: string | null; message_id: string; seq: number; role: string; created_at: string; snippet: string };

/** A fresh user: its sessions, appends and searches. */
async function newUser(name = 'u') {
  const sub = `${name}_${randomUUID()}`;
  const options = await bearer({ sub });
  const messages = messagesOf(service, options);
  return {
    sub,
    options,
    messages,
    session: (body: Record<string, unknown> = {}) => messages.session({ user_id: sub, ...body }),
    search: (query: Record<string, string | number | boolean | string[]>, extra: RequestOptions = {}) =>
      service.api.get(`/messages/search?${queryString(query)}`, { ...options, ...extra, headers: { ...options.headers, ...extra.headers } }),
    /** Hits of a search that must succeed, as message ids. */
    async ids(query: Record<string, string | number | boolean | string[]>) {
      const response = await this.search(query);
      expect(response.status, response.text).toBe(200);
      return (response.body.items as Hit[]).map((hit) => hit.message_id);
    },
  };
}

function queryString(query: Record<string, string | number | boolean | string[]>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const one of Array.isArray(value) ? value : [value]) params.append(name, String(one));
  }
  return params.toString();
}

/** A word no other test uses. */
const word = () => `w${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const say = (value: string, role = 'user'): MessageInput => ({ role, content: [text(value)] });

/** Appends the messages to a new session of the user; answers their ids in order. */
async function conversation(person: Awaited<ReturnType<typeof newUser>>, messages: MessageInput[], body: Record<string, unknown> = {}) {
  const session = await person.session(body);
  const stored = await person.messages.appendOk(session.id, messages);
  return { session, ids: stored.map((message) => message.id as string), stored };
}

/** A 400 invalid-cursor problem naming the cursor. */
function expectBadCursor(response: { status: number; text: string; body: any }) {
  expect(response.status, response.text).toBe(400);
  expect(response.body.type).toBe('/problems/invalid-cursor');
  expect(response.body.errors).toEqual([expect.objectContaining({ in: 'query', pointer: '/cursor' })]);
}

/** The snippet's length as the contract counts it: code points, without « », nor a trailing …. */
const countedLength = (snippet: string) => [...snippet.replace(/…$/, '').replace(/[«»]/g, '')].length;

describe('web-search syntax', () => {
  it('every word must appear (in any order)', async () => {
    const alice = await newUser();
    const [a, b] = [word(), word()];
    const { ids } = await conversation(alice, [say(`${a} and ${b}`), say(`${b} later ${a}`), say(`${a} alone`)]);
    expect((await alice.ids({ q: `${a} ${b}` })).sort()).toEqual([ids[0], ids[1]].sort());
  });

  it('a "quoted phrase" matches those words in that order, next to each other', async () => {
    const alice = await newUser();
    const [a, b] = [word(), word()];
    const { ids } = await conversation(alice, [say(`${a} ${b}`), say(`${b} ${a}`), say(`${a} x ${b}`)]);
    expect(await alice.ids({ q: `"${a} ${b}"` })).toEqual([ids[0]]);
  });

  it('-word excludes the messages holding it', async () => {
    const alice = await newUser();
    const [a, b] = [word(), word()];
    const { ids } = await conversation(alice, [say(`${a} ${b}`), say(`${a} only`)]);
    expect(await alice.ids({ q: `${a} -${b}` })).toEqual([ids[1]]);
  });

  it('OR matches either word', async () => {
    const alice = await newUser();
    const [a, b] = [word(), word()];
    const { ids } = await conversation(alice, [say(a), say(b), say('neither')]);
    expect((await alice.ids({ q: `${a} OR ${b}` })).sort()).toEqual([ids[0], ids[1]].sort());
  });

  it('matching ignores case', async () => {
    const alice = await newUser();
    const a = word();
    const { ids } = await conversation(alice, [say(`The ${a.toUpperCase()} report`)]);
    expect(await alice.ids({ q: a })).toEqual(ids);
  });
});

describe('what is searched', () => {
  const parts: [string, (w: string) => Part][] = [
    ['a text part', (w) => ({ type: 'text', text: `about ${w}` })],
    ['a refusal', (w) => ({ type: 'refusal', text: `I cannot help with ${w}` })],
    ["a tool_result's output", (w) => ({ type: 'tool_result', call_id: 'c1', output: `{"found":"${w}"}` })],
    ["a source's snippet", (w) => ({ type: 'source', url: 'https://example.com/doc', snippet: `cited ${w} here` })],
  ];
  it.each(parts)('the text of %s is searched', async (_name, part) => {
    const alice = await newUser();
    const w = word();
    const { ids } = await conversation(alice, [{ role: 'assistant', content: [part(w)] }]);
    expect(await alice.ids({ q: w })).toEqual(ids);
  });

  const notSearched: [string, (w: string) => Part][] = [
    ["a tool call's arguments", (w) => ({ type: 'tool_call', call_id: 'c1', name: 'lookup', arguments: { query: w } })],
    ["a tool call's name", (w) => ({ type: 'tool_call', call_id: 'c1', name: w, arguments: {} })],
    ["an image's url", (w) => ({ type: 'image', url: `https://example.com/${w}.png` })],
    ["a file's filename", (w) => ({ type: 'file', file_id: 'f1', filename: `${w}.pdf` })],
    ["a source's url and title", (w) => ({ type: 'source', url: `https://example.com/${w}`, title: `${w}` })],
    ['reasoning', (w) => ({ type: 'reasoning', text: `thinking about ${w}` })],
  ];
  it.each(notSearched)('%s is not searched', async (_name, part) => {
    const alice = await newUser();
    const w = word();
    await conversation(alice, [{ role: 'assistant', content: [part(w), text('visible words')] }]);
    expect(await alice.ids({ q: w })).toEqual([]);
    expect(await alice.ids({ q: 'visible' })).toHaveLength(1);
  });

  it('the text of several parts of one message is searched together', async () => {
    const alice = await newUser();
    const [a, b] = [word(), word()];
    const { ids } = await conversation(alice, [{ role: 'assistant', content: [text(a), { type: 'refusal', text: b }] }]);
    expect(await alice.ids({ q: `${a} ${b}` })).toEqual(ids);
  });

  it('a message being generated is found once it is finished, with what was streamed into it', async () => {
    const alice = await newUser();
    const w = word();
    const { session, ids } = await conversation(alice, [{ role: 'assistant', status: 'in_progress', content: [] }]);
    expect((await alice.messages.appendText(session.id, ids[0]!, `streamed ${w}`)).status).toBe(200);
    expect(await alice.ids({ q: w })).toEqual([]);
    expect((await alice.messages.patch(session.id, ids[0]!, { status: 'completed' })).status).toBe(200);
    expect(await alice.ids({ q: w })).toEqual(ids);
  });

  it('a deleted message is not found', async () => {
    const alice = await newUser();
    const w = word();
    const { session, ids } = await conversation(alice, [say(w), say(`${w} again`)]);
    expect((await alice.messages.remove(session.id, ids[0]!)).status).toBe(204);
    expect(await alice.ids({ q: w })).toEqual([ids[1]]);
  });

  it('a message of 1 MiB of distinct words is stored and found', async () => {
    const alice = await newUser();
    const w = word();
    // Distinct one-character words (CJK ideographs, 3 bytes each): the most a tsvector can be asked to hold per byte.
    const words = Array.from({ length: 20_000 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join(' ');
    const big = `${w} ${words.repeat(Math.floor((1024 * 1024 - 200) / (words.length * 3 + 1)))}`;
    const { ids } = await conversation(alice, [say(big.slice(0, 340_000))]);
    expect(await alice.ids({ q: w })).toEqual(ids);
  });
});

describe('filters', () => {
  it('role: only messages of the given roles (repeatable)', async () => {
    const alice = await newUser();
    const w = word();
    const { ids } = await conversation(alice, [say(w, 'user'), say(w, 'assistant'), say(w, 'tool')]);
    expect((await alice.ids({ q: w, role: 'assistant' }))).toEqual([ids[1]]);
    expect((await alice.ids({ q: w, role: ['user', 'tool'] })).sort()).toEqual([ids[0], ids[2]].sort());
  });

  it('session_id: only messages of that session', async () => {
    const alice = await newUser();
    const w = word();
    const first = await conversation(alice, [say(w)]);
    await conversation(alice, [say(w)]);
    expect(await alice.ids({ q: w, session_id: first.session.id })).toEqual(first.ids);
  });

  it("session_id of another user's session, or of none, has no hits", async () => {
    const [alice, mallory] = [await newUser('alice'), await newUser('mallory')];
    const w = word();
    const { session } = await conversation(alice, [say(w)]);
    expect(await mallory.ids({ q: w, session_id: session.id })).toEqual([]);
    expect(await alice.ids({ q: w, session_id: randomUUID() })).toEqual([]);
  });

  it('created_after and created_before: strictly after, strictly before', async () => {
    const alice = await newUser();
    const w = word();
    const first = await conversation(alice, [say(w)]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await conversation(alice, [say(w)]);
    const at = (first.stored[0] as { created_at: string }).created_at;
    expect(await alice.ids({ q: w, created_after: at })).toEqual(second.ids);
    expect(await alice.ids({ q: w, created_before: (second.stored[0] as { created_at: string }).created_at })).toEqual(first.ids);
    expect(await alice.ids({ q: w, created_after: at, created_before: at })).toEqual([]);
  });
});

describe('whose messages are searched', () => {
  it("a user token finds only its own messages, never another user's", async () => {
    const [alice, bob] = [await newUser('alice'), await newUser('bob')];
    const w = word();
    const mine = await conversation(alice, [say(w)]);
    await conversation(bob, [say(w)]);
    expect(await alice.ids({ q: w })).toEqual(mine.ids);
  });

  it("a user token naming another user's user_id is a 403", async () => {
    const [alice, bob] = [await newUser('alice'), await newUser('bob')];
    const response = await alice.search({ q: 'hello', user_id: bob.sub });
    expect(response.status).toBe(403);
    expect(response.body.type).toBe('/problems/forbidden');
    expect((await alice.search({ q: 'hello', user_id: alice.sub })).status).toBe(200);
  });

  it("a service token finds every user's messages, and user_id narrows them to one user's", async () => {
    const [alice, bob] = [await newUser('alice'), await newUser('bob')];
    const w = word();
    const a = await conversation(alice, [say(w)]);
    const b = await conversation(bob, [say(w)]);
    const billing = await bearer({ sub: 'billing-service', role: 'service_role' });
    const all = await service.api.get(`/messages/search?q=${w}`, billing);
    expect(all.status).toBe(200);
    expect((all.body.items as Hit[]).map((hit) => hit.message_id).sort()).toEqual([...a.ids, ...b.ids].sort());
    const narrowed = await service.api.get(`/messages/search?q=${w}&user_id=${bob.sub}`, billing);
    expect((narrowed.body.items as Hit[]).map((hit) => hit.message_id)).toEqual(b.ids);
  });

  it('without a token it is a 401', async () => {
    const response = await service.api.get('/messages/search?q=hello');
    expect(response.status).toBe(401);
  });

  it("soft-deleted sessions' messages are hidden unless include_deleted=true", async () => {
    const alice = await newUser();
    const w = word();
    const kept = await conversation(alice, [say(w)]);
    const deleted = await conversation(alice, [say(w)]);
    expect((await service.api.delete(`/sessions/${deleted.session.id}`, alice.options)).status).toBe(204);
    expect(await alice.ids({ q: w })).toEqual(kept.ids);
    expect((await alice.ids({ q: w, include_deleted: true })).sort()).toEqual([...kept.ids, ...deleted.ids].sort());
  });

  it("a hard-deleted session's messages are gone", async () => {
    const alice = await newUser();
    const w = word();
    const deleted = await conversation(alice, [say(w)]);
    expect((await service.api.delete(`/sessions/${deleted.session.id}?hard=true`, alice.options)).status).toBe(204);
    expect(await alice.ids({ q: w, include_deleted: true })).toEqual([]);
  });
});

describe('hits', () => {
  it('carry the session, its title, the message, its seq, role and created_at', async () => {
    const alice = await newUser();
    const w = word();
    const { session, stored } = await conversation(alice, [say('first'), say(`the ${w} here`, 'assistant')], { title: 'Budget talk' });
    const response = await alice.search({ q: w });
    expect(response.body.items).toEqual([
      {
        session_id: session.id,
        session_title: 'Budget talk',
        message_id: stored[1].id,
        seq: 2,
        role: 'assistant',
        created_at: stored[1].created_at,
        snippet: `the «${w}» here`,
      },
    ]);
    expect(response.body).toMatchObject({ limit: 20, next_cursor: null });
  });

  it('an untitled session has session_title null', async () => {
    const alice = await newUser();
    const w = word();
    await conversation(alice, [say(w)]);
    expect((await alice.search({ q: w })).body.items[0].session_title).toBeNull();
  });
});

describe('snippets', () => {
  it('wrap each matched word in « »', async () => {
    const alice = await newUser();
    const [a, b] = [word(), word()];
    await conversation(alice, [say(`Start ${a} middle ${b} end.`)]);
    expect((await alice.search({ q: `${a} ${b}` })).body.items[0].snippet).toBe(`Start «${a}» middle «${b}» end.`);
  });

  it('a long message gives at most 200 characters around the match, and … when cut', async () => {
    const alice = await newUser();
    const w = word();
    const filler = (n: number) => Array.from({ length: n }, (_, i) => `longerfillerwordnumber${i}`).join(' ');
    await conversation(alice, [say(`${filler(300)} ${w} ${filler(300)}`)]);
    const { snippet } = (await alice.search({ q: w })).body.items[0] as Hit;
    expect(snippet).toContain(`«${w}»`);
    expect(countedLength(snippet)).toBeLessThanOrEqual(200);
    expect(snippet.endsWith('…')).toBe(true);
  });

  it('a match at the end of a long message keeps the words just before it, marked by a leading …', async () => {
    const alice = await newUser();
    const w = word();
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`);
    await conversation(alice, [say(`${words.join(' ')} ${w}`)]);
    const { snippet } = (await alice.search({ q: w })).body.items[0] as Hit;
    expect(snippet).toMatch(new RegExp(`^…word\\d+ .* «${w}»$`));
    expect(countedLength(snippet)).toBeLessThanOrEqual(200);
  });

  it('many matches, every word a match, still at most 200 characters', async () => {
    const alice = await newUser();
    const w = word();
    await conversation(alice, [say(Array.from({ length: 500 }, () => w).join(' '))]);
    const { snippet } = (await alice.search({ q: w })).body.items[0] as Hit;
    expect(countedLength(snippet)).toBeLessThanOrEqual(200);
    expect(countedLength(snippet)).toBeGreaterThan(150);
    expect(snippet.startsWith(`«${w}»`)).toBe(true);
    // Every « has its », none cut in half.
    expect(snippet.replace(/…$/, '')).toMatch(/^(«[^«»]+»|[^«»])*$/);
  });

  it('long words (no spaces for thousands of characters) are cut to 200 too', async () => {
    const alice = await newUser();
    const w = word();
    const long = 'x'.repeat(1500);
    await conversation(alice, [say(`${long} ${w} ${long}`)]);
    const { snippet } = (await alice.search({ q: w })).body.items[0] as Hit;
    expect(snippet).toContain(`«${w}»`);
    expect(countedLength(snippet)).toBeLessThanOrEqual(200);
  });

  it('characters are code points: 200 emoji fit, 201 do not', async () => {
    const alice = await newUser();
    const w = word();
    await conversation(alice, [say(`${w} ${'😀'.repeat(400)}`)]);
    const { snippet } = (await alice.search({ q: w })).body.items[0] as Hit;
    expect(countedLength(snippet)).toBeLessThanOrEqual(200);
    expect(snippet.endsWith('…')).toBe(true);
  });

  it('text that itself holds « » is returned as it is', async () => {
    const alice = await newUser();
    const w = word();
    await conversation(alice, [say(`«quoted» ${w}`)]);
    expect((await alice.search({ q: w })).body.items[0].snippet).toBe(`«quoted» «${w}»`);
  });
});

describe('order and paging', () => {
  it('best match first: a message with more of the words ranks above one with fewer', async () => {
    const alice = await newUser();
    const [a, b] = [word(), word()];
    const { ids } = await conversation(alice, [say(`${a} ${b} ${a} ${b}`), say(`${a} or else`)]);
    expect(await alice.ids({ q: `${a} OR ${b}` })).toEqual([ids[0], ids[1]]);
  });

  it('equal matches: newest first', async () => {
    const alice = await newUser();
    const w = word();
    const { ids } = await conversation(alice, [say(`${w} one`), say(`${w} two`), say(`${w} six`)]);
    expect(await alice.ids({ q: w })).toEqual([...ids].reverse());
  });

  it('paging through 450 matches (three blocks of candidates) gives each hit exactly once', async () => {
    const alice = await newUser();
    const w = word();
    const session = await alice.session();
    const all: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const stored = await alice.messages.appendOk(
        session.id,
        Array.from({ length: 90 }, (_, i) => say(`${w} ${'extra '.repeat((batch * 90 + i) % 7)}`)),
      );
      all.push(...stored.map((message) => message.id as string));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await alice.search({ q: w, limit: 37, ...(cursor ? { cursor } : {}) });
      expect(response.status, response.text).toBe(200);
      seen.push(...(response.body.items as Hit[]).map((hit) => hit.message_id));
      cursor = response.body.next_cursor;
      // Appends while paging change nothing of what the pages give.
      if (pages === 3) await alice.messages.appendOk(session.id, [say(`${w} appended while paging`)]);
      pages++;
    } while (cursor);
    expect(seen).toHaveLength(all.length);
    expect(new Set(seen)).toEqual(new Set(all));
  });

  it('within a block, pages are in rank order; the blocks go from newest to oldest', async () => {
    const alice = await newUser();
    const w = word();
    const session = await alice.session();
    // 250 matches: the newest 200 form the first block; one strong match is among the oldest 50.
    const [strong] = await alice.messages.appendOk(session.id, [say(`${w} ${w} ${w} ${w}`)]);
    for (let i = 0; i < 249; i += 83) {
      await alice.messages.appendOk(session.id, Array.from({ length: Math.min(83, 249 - i) }, () => say(`${w} and a few more words in it`)));
    }
    const hits: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await alice.search({ q: w, limit: 50, ...(cursor ? { cursor } : {}) });
      hits.push(...(response.body.items as Hit[]).map((hit) => hit.message_id));
      cursor = response.body.next_cursor;
    } while (cursor);
    expect(hits).toHaveLength(250);
    // The strong match leads the second block (the first hit after the newest 200).
    expect(hits.indexOf(strong.id)).toBe(200);
  });

  it('limit: 1–50, 20 by default; 51 is a 400 naming limit', async () => {
    const alice = await newUser();
    expect((await alice.search({ q: 'x' })).body.limit).toBe(20);
    expect((await alice.search({ q: 'x', limit: 50 })).status).toBe(200);
    expectInvalid(await alice.search({ q: 'x', limit: 51 }), { in: 'query', pointer: '/limit' });
  });
});

describe('cursors are bound to the search and the caller', () => {
  async function firstPage() {
    const alice = await newUser();
    const w = word();
    await conversation(alice, [say(w), say(w), say(w)]);
    const response = await alice.search({ q: w, limit: 1 });
    expect(response.body.next_cursor).toEqual(expect.any(String));
    return { alice, w, cursor: response.body.next_cursor as string };
  }

  it('a cursor with another q is a 400 naming cursor', async () => {
    const { alice, w, cursor } = await firstPage();
    expectBadCursor(await alice.search({ q: `${w} OR other`, limit: 1, cursor }));
  });

  it('a cursor with other filters is a 400 naming cursor', async () => {
    const { alice, w, cursor } = await firstPage();
    expectBadCursor(await alice.search({ q: w, limit: 1, cursor, role: 'user' }));
    expectBadCursor(await alice.search({ q: w, limit: 1, cursor, include_deleted: true }));
  });

  it('a cursor with another limit pages on', async () => {
    const { alice, w, cursor } = await firstPage();
    const response = await alice.search({ q: w, limit: 5, cursor });
    expect(response.status).toBe(200);
    expect(response.body.items).toHaveLength(2);
  });

  it("another caller's cursor is a 400 naming cursor", async () => {
    const { w, cursor } = await firstPage();
    const mallory = await newUser('mallory');
    expectBadCursor(await mallory.search({ q: w, limit: 1, cursor }));
  });

  it('a tampered cursor is a 400 naming cursor', async () => {
    const { alice, w, cursor } = await firstPage();
    const tampered = `${cursor.slice(0, -2)}${cursor.endsWith('A') ? 'B' : 'A'}A`;
    expectBadCursor(await alice.search({ q: w, limit: 1, cursor: tampered }));
  });

  it("a session list's cursor is not a search cursor", async () => {
    const { alice, w } = await firstPage();
    await alice.session();
    await alice.session();
    const list = await service.api.get('/sessions?limit=1', alice.options);
    expectBadCursor(await alice.search({ q: w, cursor: list.body.next_cursor }));
  });
});

describe('hostile q', () => {
  const nothingToFind = ['""', '-', '---', "' \" '", '!&|', '(((', '"', '- - -', '-"', 'OR', '-OR', '&', '|', ':*', '<->', '\\', '"" -""'];
  it.each(nothingToFind)('q=%s is a 200 with no hits or a 400 naming q, never a 500', async (q) => {
    const alice = await newUser();
    await conversation(alice, [say('or and not the words')]);
    const response = await alice.search({ q });
    if (response.status === 200) expect(response.body.items.length).toBeGreaterThanOrEqual(0);
    else expectInvalid(response, { in: 'query', pointer: '/q', message: /q must contain at least one word/ });
  });

  it('q of operators only, with no word at all, is a 400 naming q', async () => {
    const alice = await newUser();
    for (const q of ['""', '-', '---', '!&|', "' \" '"]) {
      expectInvalid(await alice.search({ q }), { in: 'query', pointer: '/q', message: /at least one word/ });
    }
  });

  it('q of excluded words only is a 400 naming q (it would match nearly everything)', async () => {
    const alice = await newUser();
    expectInvalid(await alice.search({ q: '-draft' }), { in: 'query', pointer: '/q' });
    expectInvalid(await alice.search({ q: '-draft -"old copy"' }), { in: 'query', pointer: '/q' });
  });

  it('tsquery syntax in q is plain text, not operators', async () => {
    const alice = await newUser();
    const [a, b] = [word(), word()];
    const { ids } = await conversation(alice, [say(`${a} ${b}`)]);
    expect(await alice.ids({ q: `${a} & !${b}` })).toEqual(ids);
    expect(await alice.ids({ q: `${a}:* | ${b}` })).toEqual(ids);
  });

  it("SQL in q is only text: '; DROP TABLE chat_messages; --", async () => {
    const alice = await newUser();
    const { ids } = await conversation(alice, [say('please drop table reservations')]);
    expect(await alice.ids({ q: "'; DROP TABLE chat_messages; --" })).toEqual([]);
    expect(await alice.ids({ q: 'drop table' })).toEqual(ids);
  });

  it('q over 200 characters, empty, or with control characters is a 400 naming q', async () => {
    const alice = await newUser();
    expectInvalid(await alice.search({ q: 'a'.repeat(201) }), { in: 'query', pointer: '/q' });
    expectInvalid(await alice.search({ q: '' }), { in: 'query', pointer: '/q' });
    expectInvalid(await alice.search({ q: 'a\u0001b' }), { in: 'query', pointer: '/q' });
    expectInvalid(await service.api.get('/messages/search', alice.options), { in: 'query', pointer: '/q' });
  });

  it('200 characters of words and operators is answered', async () => {
    const alice = await newUser();
    const q = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `-w${i}` : i % 3 === 1 ? `"a${i} b"` : 'OR')).join(' ').slice(0, 200);
    expect((await alice.search({ q })).status).toBe(200);
  });
});

describe('every language, with the simple configuration', () => {
  it.each([
    ['Cyrillic, matched case-insensitively', 'Привет, как ДЕЛА?', 'дела'],
    ['Greek', 'Καλημέρα κόσμε', 'κόσμε'],
    ['Arabic', 'مرحبا بالعالم', 'بالعالم'],
    ['CJK words between spaces or punctuation', '東京 タワーに行きました。', 'タワーに行きました'],
    ['Chinese', '我们 讨论了 预算', '预算'],
    ['accents', 'Déjà vu au café', 'café'],
    ['emoji next to words', 'launch 🚀 tomorrow', 'tomorrow'],
  ])('%s', async (_name, message, q) => {
    const alice = await newUser();
    const { ids } = await conversation(alice, [say(message)]);
    expect(await alice.ids({ q })).toEqual(ids);
  });

  it('without stemming: a word matches itself, not its other forms', async () => {
    const alice = await newUser();
    await conversation(alice, [say('running fast')]);
    expect(await alice.ids({ q: 'run' })).toEqual([]);
    expect(await alice.ids({ q: 'running' })).toHaveLength(1);
  });
});
