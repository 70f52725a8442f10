import { once } from 'node:events';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { clientErrorAnswerer } from '../src/http/client-errors.ts';
import { checkedFetch } from './support/checked-fetch.ts';
import { contractViolations, problemViolations, type ReceivedResponse } from './support/contract.ts';
import { useTestService } from './support/service.ts';
import { problemMembers } from './support/problems.ts';

const service = useTestService({ BODY_LIMIT: String(64 * 1024) });


describe('every error is an application/problem+json document', () => {
  it('an unknown route is a 404 problem', async () => {
    const response = await service.api.get('/nowhere');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Object.keys(response.body)).toEqual(expect.arrayContaining(problemMembers));
    expect(response.body.instance).toBe('/api/v1/nowhere');
  });

  it('a path outside the API base path is a 404 problem', async () => {
    const response = await service.api.request('GET', '/api/v2/sessions');
    expect(response.status).toBe(404);
  });

  it('a known path with an undeclared method is a 405 problem with Allow', async () => {
    const response = await service.api.request('PUT', '/sessions', { json: {} });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
    expect(response.body.type).toBe('/problems/method-not-allowed');
  });

  it('POST on a session is a 405 that allows GET, PATCH and DELETE', async () => {
    const response = await service.api.request('POST', '/sessions/3f1c2a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);
  });

  it('a body that is not JSON is a 400 malformed-json problem', async () => {
    const response = await service.api.request('POST', '/sessions', { raw: '{"user_id": "u1",', contentType: 'application/json' });
    expect(response.status).toBe(400);
    expect(response.body.type).toBe('/problems/malformed-json');
  });

  it('a JSON body that is not an object or array is a 400', async () => {
    const response = await service.api.request('POST', '/sessions', { raw: '"just a string"', contentType: 'application/json' });
    expect(response.status).toBe(400);
  });

  it('a JSON array body is a 400 naming the body', async () => {
    const response = await service.api.post('/sessions', [{ user_id: 'u1' }]);
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ in: 'body', pointer: '', message: 'the request body must be object' }]);
  });

  it('a missing body is a 400 saying the body is required', async () => {
    const response = await service.api.request('POST', '/sessions');
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ in: 'body', pointer: '', message: 'the request body is required' }]);
  });

  it('a body over the 64 KiB limit is a 413 problem', async () => {
    const title = 'x'.repeat(64 * 1024);
    const response = await service.api.post('/sessions', { user_id: 'u1', title });
    expect(response.status).toBe(413);
    expect(response.body.type).toBe('/problems/payload-too-large');
  });

  it('a chunked body (no Content-Length) over the limit is a 413 problem', async () => {
    const chunk = new TextEncoder().encode(`"${'x'.repeat(1022)}",`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"user_id":"u1","metadata":{"a":['));
        if (sent++ < 80) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const url = `${service.origin}/api/v1/sessions`;
    const response = await checkedFetch(url, { method: 'POST', body, duplex: 'half', headers: { 'content-type': 'application/json' } } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { type: string }).type).toBe('/problems/payload-too-large');
  });

  it('a compressed body (Content-Encoding: gzip) is a 415 problem', async () => {
    const raw = gzipSync(JSON.stringify({ user_id: 'u1' }));
    const response = await service.api.request('POST', '/sessions', { raw, contentType: 'application/json', headers: { 'content-encoding': 'gzip' } });
    expect(response.status).toBe(415);
    expect(response.body.detail).toMatch(/Content-Encoding gzip/);
  });

  it('a JSON body starting with a UTF-8 byte order mark is read without it', async () => {
    const response = await service.api.request('POST', '/sessions', { raw: `\uFEFF${JSON.stringify({ user_id: 'u1', title: 'bom' })}`, contentType: 'application/json' });
    expect(response.status).toBe(201);
    expect(response.body.title).toBe('bom');
  });

  it('a body that is not valid UTF-8 is a 400 malformed-json problem saying so', async () => {
    const raw = Buffer.concat([Buffer.from('{"user_id":"u1","title":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const response = await service.api.request('POST', '/sessions', { raw, contentType: 'application/json' });
    expect(response.status).toBe(400);
    expect(response.body.type).toBe('/problems/malformed-json');
    expect(response.body.detail).toMatch(/UTF-8/);
  });

  it('a body just under the limit is parsed (and judged by the contract)', async () => {
    const metadata = { blob: 'x'.repeat(60 * 1024) };
    const response = await service.api.post('/sessions', { user_id: 'u1', metadata });
    expect(response.status).toBe(400);
    expect(response.body.errors[0].pointer).toBe('/metadata');
  });

  it('a body with another media type is a 415 problem', async () => {
    const response = await service.api.request('POST', '/sessions', { raw: 'user_id=u1', contentType: 'text/plain' });
    expect(response.status).toBe(415);
    expect(response.body.detail).toContain('application/json');
  });

  it('a form-encoded body is a 415 problem', async () => {
    const response = await service.api.request('POST', '/sessions', {
      raw: 'user_id=u1',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(response.status).toBe(415);
  });

  it('merge-patch+json is accepted only where the contract declares it', async () => {
    const response = await service.api.post('/sessions', { user_id: 'u1' }, { contentType: 'application/merge-patch+json' });
    expect(response.status).toBe(415);
  });

  it('a body without Content-Type is a 415 problem', async () => {
    const response = await service.api.request('POST', '/sessions', { raw: '{"user_id":"u1"}' });
    expect(response.status).toBe(415);
  });

  it('application/json with a charset parameter is accepted', async () => {
    const response = await service.api.post('/sessions', { user_id: 'u1' }, { contentType: 'application/json; charset=utf-8' });
    expect(response.status).toBe(201);
  });

  it('an unsupported charset is a 415 problem', async () => {
    const response = await service.api.post('/sessions', { user_id: 'u1' }, { contentType: 'application/json; charset=klingon' });
    expect(response.status).toBe(415);
  });

  it('validation problems list every invalid field, not only the first', async () => {
    const response = await service.api.post('/sessions', { user_id: '', status: 'gone', extra: 1 });
    expect(response.status).toBe(400);
    expect(response.body.errors.map((error: { pointer: string }) => error.pointer).sort()).toEqual([
      '/extra',
      '/status',
      '/user_id',
    ]);
    expect(response.body.detail).toContain('(and 2 more)');
  });
});

describe('X-Request-Id', () => {
  it('echoes a valid request id on the response and in problems', async () => {
    const response = await service.api.get('/nowhere', { headers: { 'X-Request-Id': 'trace-abc.123' } });
    expect(response.headers.get('x-request-id')).toBe('trace-abc.123');
    expect(response.body.request_id).toBe('trace-abc.123');
  });

  it('replaces an id longer than 128 characters with a generated one', async () => {
    const response = await service.api.get('/health/live', { headers: { 'X-Request-Id': 'a'.repeat(129) } });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('replaces an id with spaces or non-ASCII characters with a generated one', async () => {
    const response = await service.api.get('/health/live', { headers: { 'X-Request-Id': 'has space' } });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('generates an id when none is sent', async () => {
    const response = await service.api.get('/health/live');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('CORS', () => {
  it('sends no CORS headers when CORS_ORIGINS is empty', async () => {
    const response = await service.api.get('/health/live', { headers: { Origin: 'https://app.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('bounded requests', () => {
  it('a URL longer than MAX_URL_LENGTH is a 414 problem', async () => {
    const response = await fetch(`${service.origin}/api/v1/sessions?q=${'a'.repeat(9_000)}`);
    expect(response.status).toBe(414);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await response.json()) as { type: string }).type).toBe('/problems/uri-too-long');
  });

  it('request headers over 16 KiB are a 431 problem', async () => {
    const response = await fetch(`${service.origin}/api/v1/health/live`, { headers: { 'X-Padding': 'p'.repeat(17_000) } });
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await response.json()) as { type: string }).type).toBe('/problems/request-header-fields-too-large');
  });
});

/** Writes these bytes on a fresh connection and reads the answer until the server closes it. */
async function rawExchange(bytes: string, origin = service.origin): Promise<ReceivedResponse & { body: Record<string, unknown> }> {
  const { port } = new URL(origin);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.end(bytes);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const answer = Buffer.concat(chunks).toString('utf8');
  const [head, text = ''] = answer.split(/\r\n\r\n(.*)/s);
  const [statusLine, ...headerLines] = head!.split('\r\n');
  const headers = new Headers(headerLines.map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()] as [string, string]));
  return { status: Number(statusLine!.split(' ')[1]), headers, text, body: JSON.parse(text) };
}

describe('requests Node refuses before the API sees them still carry a request id', () => {
  const generated = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const smuggling = (extra = '') =>
    `POST /api/v1/sessions?x=1 HTTP/1.1\r\nHost: x\r\n${extra}Content-Type: application/json\r\n` +
    'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';

  it('Content-Length with Transfer-Encoding: chunked is a 400 with a generated request id, in the header and the problem', async () => {
    const response = await rawExchange(smuggling());
    expect(response.status).toBe(400);
    expect(contractViolations('POST', '/api/v1/sessions', response)).toEqual([]);
    expect(response.body).toMatchObject({ type: '/problems/bad-request', instance: '/api/v1/sessions' });
    expect(response.headers.get('x-request-id')).toMatch(generated);
    expect(response.body.request_id).toBe(response.headers.get('x-request-id'));
  });

  it('echoes the valid X-Request-Id the client sent', async () => {
    const response = await rawExchange(smuggling('X-Request-Id: trace-abc.123\r\n'));
    expect(response.headers.get('x-request-id')).toBe('trace-abc.123');
    expect(response.body.request_id).toBe('trace-abc.123');
  });

  it('replaces an X-Request-Id that is not valid, or sent twice, with a generated one', async () => {
    for (const extra of ['X-Request-Id: has space\r\n', `X-Request-Id: ${'a'.repeat(129)}\r\n`, 'X-Request-Id: one\r\nX-Request-Id: two\r\n']) {
      const response = await rawExchange(smuggling(extra));
      expect(response.headers.get('x-request-id'), extra).toMatch(generated);
      expect(response.body.request_id, extra).toBe(response.headers.get('x-request-id'));
    }
  });

  it('a malformed request line is a 400 problem with a generated request id and no instance', async () => {
    const response = await rawExchange('NOT AN HTTP REQUEST\r\nX-Request-Id: not-trusted\r\n\r\n');
    expect(response.status).toBe(400);
    expect(problemViolations(response)).toEqual([]);
    expect(response.body).toMatchObject({ type: '/problems/bad-request', instance: '' });
    expect(response.headers.get('x-request-id')).toMatch(generated);
    expect(response.body.request_id).toBe(response.headers.get('x-request-id'));
  });

  it('headers over 16 KiB are a 431 problem with the request id and path', async () => {
    const response = await rawExchange(`GET /api/v1/health/live HTTP/1.1\r\nHost: x\r\nX-Request-Id: big-1\r\nX-Padding: ${'p'.repeat(17_000)}\r\n\r\n`);
    expect(response.status).toBe(431);
    expect(problemViolations(response)).toEqual([]);
    expect(response.body).toMatchObject({ type: '/problems/request-header-fields-too-large', instance: '/api/v1/health/live', request_id: 'big-1' });
    expect(response.headers.get('x-request-id')).toBe('big-1');
  });

  it('the log line carries the same request id', async () => {
    const logged: Record<string, unknown>[] = [];
    const lines = new Writable({
      write(chunk, _encoding, done) {
        logged.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const server = createServer().on('clientError', clientErrorAnswerer(pino(lines)));
    await once(server.listen(0, '127.0.0.1'), 'listening');
    try {
      const response = await rawExchange('NOT AN HTTP REQUEST\r\n\r\n', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      expect(logged).toContainEqual(expect.objectContaining({ request_id: response.body.request_id, status: 400, parse_error: 'HPE_INVALID_METHOD' }));
    } finally {
      server.close();
    }
  });
});

describe('a client that hangs up in the middle of its body', () => {
  it('is counted as a 400 (malformed body), not a server error', async () => {
    const count = async (status: string) => {
      const text = await (await fetch(`${service.origin}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`http_requests_total{operation="createSession",status="${status}"}`));
      return Number(line?.split(' ')[1] ?? 0);
    };
    const before = { bad: await count('400'), failed: await count('500') };
    const { port } = new URL(service.origin);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user_id":');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    await expect.poll(() => count('400'), { timeout: 5_000 }).toBe(before.bad + 1);
    expect(await count('500')).toBe(before.failed);
  });
});
