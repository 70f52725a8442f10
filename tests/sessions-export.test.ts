/**
 * GET /sessions/{id}/export (SPEC.md, "Fork, export and import"): the whole session as a
 * download, JSON Lines (every message of every branch, as the API returns them) or Markdown (the
 * current branch, for people), streamed from one snapshot. The test client checks every line of
 * a JSON Lines body against the schemas the contract names for it (x-line-schemas).
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { withClient } from './support/database.ts';
import { expectProblem, messagesOf, streaming, text, user } from './support/messages.ts';
import { useTestService } from './support/service.ts';

const service = useTestService();
const messages = messagesOf(service);

const exportOf = (id: string, format?: string) => service.api.get(`/sessions/${id}/export${format ? `?format=${format}` : ''}`);
const linesOf = (body: string) => body.trimEnd().split('\n').map((line) => JSON.parse(line));

describe('export as JSON Lines', () => {
  it('line 1 is the session as GET returns it, then every message in seq order as GET returns it', async () => {
    const session = await messages.session({ title: 'Budget', metadata: { a: 1 } });
    const appended = await messages.appendOk(session.id, [user('q1'), { role: 'assistant', content: [text('a1')] }, user('q2')]);
    const response = await exportOf(session.id);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/jsonl');
    const [first, ...rest] = linesOf(response.text);
    expect(first).toEqual((await messages.getSession(session.id)).body);
    for (const [index, message] of appended.entries()) expect(rest[index]).toEqual((await messages.get(session.id, message.id)).body);
    expect(rest.map((message) => message.seq)).toEqual([1, 2, 3]);
  });

  it('is the default format, ends with a newline and is an attachment with a safe file name', async () => {
    const session = await messages.session();
    const response = await exportOf(session.id);
    expect(response.text.endsWith('\n')).toBe(true);
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="session-${session.id}.jsonl"`);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('holds every message of every branch, not only the current one', async () => {
    const session = await messages.session();
    const [question] = await messages.appendOk(session.id, [user('q'), { role: 'assistant', content: [text('first answer')] }]);
    await withClient(service.databaseUrl, (client) =>
      // A second answer to the same question (a regeneration), as branching stores it.
      client.query(
        `INSERT INTO chat_messages (session_id, seq, id, parent_id, role, content, content_bytes, status)
         VALUES ($1, 3, $2, $3, 'assistant', '[{"type":"text","text":"second answer"}]', 40, 'completed')`,
        [session.id, randomUUID(), question.id],
      ),
    );
    const lines = linesOf((await exportOf(session.id)).text);
    expect(lines.slice(1).map((message) => message.content[0].text)).toEqual(['q', 'first answer', 'second answer']);
    expect(lines[3].parent_id).toBe(question.id);
  });

  it('exports a message that timed out as the API reads it (incomplete), not as stored', async () => {
    const session = await messages.session();
    const [message] = await messages.appendOk(session.id, [streaming([text('half')])]);
    await withClient(service.databaseUrl, (client) =>
      client.query(`UPDATE chat_messages SET updated_at = now() - interval '1 day' WHERE id = $1`, [message.id]),
    );
    const [, exported] = linesOf((await exportOf(session.id)).text);
    expect(exported).toEqual((await messages.get(session.id, message.id)).body);
    expect(exported.status).toBe('incomplete');
  });

  it('a closed, soft-deleted session exports as it reads', async () => {
    const session = await messages.session({ status: 'closed' });
    await service.api.delete(`/sessions/${session.id}`);
    const response = await exportOf(session.id);
    expect(response.status).toBe(200);
    expect(linesOf(response.text)[0]).toMatchObject({ status: 'closed', is_active: false });
  });

  it('pages through a session longer than one page, in seq order', async () => {
    const session = await messages.session();
    for (let batch = 0; batch < 3; batch++) {
      await messages.appendOk(session.id, Array.from({ length: 100 }, (_, i) => user(`m${batch * 100 + i}`)));
    }
    const lines = linesOf((await exportOf(session.id)).text);
    expect(lines).toHaveLength(301);
    expect(lines.slice(1).map((message) => message.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });
});

describe('export as Markdown', () => {
  it('is text/markdown; charset=utf-8, an attachment named .md', async () => {
    const session = await messages.session({ title: 'Notes' });
    const response = await exportOf(session.id, 'markdown');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="session-${session.id}.md"`);
    expect(response.text).toMatch(/^# Notes\n/);
  });

  it('renders roles, text as written, tool calls and results in fences, sources as links', async () => {
    const session = await messages.session({ title: 'Q3 *budget*' });
    await messages.appendOk(session.id, [
      user('What did we **decide**?\n\nLine two'),
      {
        role: 'assistant',
        content: [{ type: 'tool_call', call_id: 'call_1', name: 'search', arguments: { query: '```q3```' } }],
        finish_reason: 'tool_calls',
      },
      { role: 'tool', content: [{ type: 'tool_result', call_id: 'call_1', output: 'found ``` it' }] },
      {
        role: 'assistant',
        model: 'gpt-4o',
        content: [text('Approved.'), { type: 'source', url: 'https://example.com/minutes?id=(7)', title: 'Minutes [final]', snippet: 'approved' }],
      },
    ]);
    const markdown = (await exportOf(session.id, 'markdown')).text;
    expect(markdown).toContain('# Q3 \\*budget\\*');
    expect(markdown).toContain('### User\n\nWhat did we **decide**?\n\nLine two\n');
    expect(markdown).toContain('### Assistant _(finish: tool_calls)_');
    // A fence longer than the backticks inside, so the arguments cannot close it.
    expect(markdown).toContain('````json\n{\n  "query": "```q3```"\n}\n````');
    expect(markdown).toContain('````\nfound ``` it\n````');
    expect(markdown).toContain('### Assistant _(model gpt-4o)_\n\nApproved.');
    expect(markdown).toContain('[Minutes \\[final\\]](<https://example.com/minutes?id=(7)>)');
  });

  it('holds the current branch only: root to the current leaf', async () => {
    const session = await messages.session();
    const [question, first] = await messages.appendOk(session.id, [user('q'), { role: 'assistant', content: [text('kept answer')] }]);
    const other = randomUUID();
    await withClient(service.databaseUrl, async (client) => {
      await client.query(
        `INSERT INTO chat_messages (session_id, seq, id, parent_id, role, content, content_bytes, status)
         VALUES ($1, 3, $2, $3, 'assistant', '[{"type":"text","text":"other branch"}]', 40, 'completed')`,
        [session.id, other, question.id],
      );
      await client.query('UPDATE chat_sessions SET current_message_id = $2 WHERE id = $1', [session.id, first.id]);
    });
    const markdown = (await exportOf(session.id, 'markdown')).text;
    expect(markdown).toContain('kept answer');
    expect(markdown).not.toContain('other branch');
  });
});

describe('export: what it refuses', () => {
  it('an unknown session is a 404', async () => {
    expectProblem(await exportOf(randomUUID()), 404, 'not-found');
  });

  it('an unknown format is a 400 naming it', async () => {
    const session = await messages.session();
    const response = await exportOf(session.id, 'pdf');
    expectProblem(response, 400, 'validation-failed');
    expect(response.body.errors[0]).toMatchObject({ in: 'query', pointer: '/format' });
  });
});

describe('export streams from one snapshot', () => {
  it('a reader that disconnects mid-export frees its database connection', async () => {
    const session = await messages.session();
    for (let batch = 0; batch < 20; batch++) {
      await messages.appendOk(session.id, Array.from({ length: 100 }, () => user('x'.repeat(2000))));
    }
    const url = new URL(`/api/v1/sessions/${session.id}/export`, service.origin);
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest(url, (response) => {
        response.once('data', () => {
          request.destroy(); // read one chunk, then hang up
          resolve();
        });
      });
      request.on('error', () => {});
      request.once('error', reject);
      request.end();
    });
    // The export's transaction ends: no connection of ours stays "idle in transaction".
    await expect
      .poll(
        () =>
          withClient(service.databaseUrl, async (client) => {
            const { rows } = await client.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
            );
            return rows[0].n as number;
          }),
        { timeout: 5_000 },
      )
      .toBe(0);
  });

  it('messages appended while an export streams are not in it', async () => {
    const session = await messages.session();
    for (let batch = 0; batch < 10; batch++) {
      await messages.appendOk(session.id, Array.from({ length: 100 }, () => user('y'.repeat(5000))));
    }
    // Start the export, append while its body is still unread, then read it.
    const url = new URL(`/api/v1/sessions/${session.id}/export`, service.origin);
    const body = await new Promise<string>((resolve, reject) => {
      const request = httpRequest(url, (response) => {
        response.pause();
        messages
          .appendOk(session.id, [user('appended meanwhile')])
          .then(() => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (text += chunk));
            response.on('end', () => resolve(text));
            response.resume();
          }, reject);
      });
      request.once('error', reject);
      request.end();
    });
    const lines = linesOf(body);
    expect(lines).toHaveLength(1001);
    expect(lines[0].message_count).toBe(1000);
    expect(body).not.toContain('appended meanwhile');
  });
});
