/**
 * Log lines: JSON for machines (pipes, files, production), readable lines for a person at a
 * terminal, LOG_FORMAT to force either.
 */
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger, logFormat } from '../src/http/logging.ts';
import { createTestDatabase, withClient } from './support/database.ts';
import { startInstance } from './support/service.ts';

const run = promisify(execFile);
const entry = fileURLToPath(new URL('../src/start.ts', import.meta.url));
const ansi = /\x1b\[[0-9;]*m/g;
const readable = /^\d\d:\d\d:\d\d\.\d{3} WARN  waiting for the database /;

/** A stream that says it is (or is not) a terminal and keeps what is written to it. */
function fakeStdout(isTTY: boolean) {
  const written: string[] = [];
  const stream = Object.assign(new Writable({ write: (chunk, _encoding, done) => (written.push(String(chunk)), done()) }), { isTTY });
  return { stream, text: () => written.join('') };
}

/** A port nobody listens on: the service then logs that it waits for its database, then gives up. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs the service (node src/start.ts) against a database that is down, until it gives up. */
async function outputOfService(env: Record<string, string>, underTerminal = false): Promise<string> {
  const environment = {
    ...process.env,
    NODE_ENV: 'development',
    DATABASE_URL: `postgres://127.0.0.1:${await closedPort()}/none`,
    DB_STARTUP_TIMEOUT_MS: '300',
    LOG_LEVEL: 'info',
    ...env,
  };
  // `script` (util-linux) runs the command on a pseudo-terminal, as `make run` in a shell is.
  const [file, args] = underTerminal
    ? ['script', ['-qec', `'${process.execPath}' '${entry}'`, '/dev/null']]
    : [process.execPath, [entry]];
  const result = await run(file, args, { env: environment }).catch((failure: { stdout: string }) => failure);
  return result.stdout.replaceAll('\r\n', '\n');
}

describe('the log format', () => {
  it.each([
    [undefined, 'development', true, 'pretty'],
    [undefined, 'test', true, 'pretty'],
    [undefined, 'development', false, 'json'],
    [undefined, 'production', true, 'json'],
    ['json', 'development', true, 'json'],
    ['pretty', 'production', false, 'pretty'],
  ] as const)('LOG_FORMAT=%s, NODE_ENV=%s, a terminal: %s → %s', (configured, nodeEnv, isTTY, expected) => {
    expect(logFormat(configured, nodeEnv, { isTTY })).toBe(expected);
  });

  it('pretty lines read as time, level, message and fields, coloured on a terminal', () => {
    const out = fakeStdout(true);
    createLogger('info', { format: 'pretty', destination: out.stream }).info(
      { request_id: 'r-1', status: 200, route: '/api/v1/sessions', detail: 'two words' },
      'request',
    );
    expect(out.text()).toContain('\x1b[');
    expect(out.text().replace(ansi, '')).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO  request request_id=r-1 status=200 route=\/api\/v1\/sessions detail="two words"\n$/,
    );
  });

  it('pretty lines carry no colours when the stream is not a terminal', () => {
    const out = fakeStdout(false);
    createLogger('info', { format: 'pretty', destination: out.stream }).warn('careful');
    expect(out.text()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  careful\n$/);
  });

  it('a pretty error shows its stack below the line', () => {
    const out = fakeStdout(false);
    createLogger('info', { format: 'pretty', destination: out.stream }).error({ err: new Error('boom') }, 'request failed');
    const [line, ...stack] = out.text().trimEnd().split('\n');
    expect(line).toMatch(/ERROR request failed$/);
    expect(stack[0]).toBe('    Error: boom');
    expect(stack.length).toBeGreaterThan(1);
  });

  it('a pretty error without a stack shows its message as the err field', () => {
    const out = fakeStdout(false);
    createLogger('info', { format: 'pretty', destination: out.stream }).warn({ err: { message: 'connect refused' } }, 'waiting');
    expect(out.text()).toMatch(/ WARN  waiting err="connect refused"\n$/);
  });

  it('JSON lines stay JSON', () => {
    const out = fakeStdout(true);
    createLogger('info', { format: 'json', destination: out.stream }).info({ status: 200 }, 'request');
    expect(JSON.parse(out.text())).toMatchObject({ level: 'info', msg: 'request', status: 200 });
  });
});

describe('the service as a process', () => {
  it('prints JSON lines when its output is a pipe, outside production too', async () => {
    const lines = (await outputOfService({})).trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', msg: 'waiting for the database' });
  }, 30_000);

  it('prints readable lines on a terminal', async () => {
    const output = (await outputOfService({}, true)).replace(ansi, '');
    expect(output.split('\n')[0]).toMatch(readable);
  }, 30_000);

  it('LOG_FORMAT=json keeps JSON on a terminal', async () => {
    const output = await outputOfService({ LOG_FORMAT: 'json' }, true);
    expect(JSON.parse(output.split('\n')[0]!)).toMatchObject({ msg: 'waiting for the database' });
  }, 30_000);

  it('LOG_FORMAT=pretty prints readable lines into a pipe', async () => {
    expect((await outputOfService({ LOG_FORMAT: 'pretty' })).split('\n')[0]).toMatch(readable);
  }, 30_000);

  it('production prints JSON on a terminal', async () => {
    const output = await outputOfService({ NODE_ENV: 'production', AUTH_MODE: 'none' }, true);
    expect(JSON.parse(output.split('\n')[0]!)).toMatchObject({ msg: 'waiting for the database' });
  }, 30_000);
});

describe('the request line', () => {
  it('of a 4xx names the problem type, so a 409 says which (here session-closed) without a body', async () => {
    const database = await createTestDatabase();
    const out = fakeStdout(false);
    const service = await startInstance(database.url, {}, createLogger('info', { format: 'json', destination: out.stream }));
    try {
      const session = (await service.api.post('/sessions', { user_id: 'logged', status: 'closed' })).body;
      const response = await service.api.post(`/sessions/${session.id}/messages`, { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });
      expect(response.status).toBe(409);
      const line = out.text().trim().split('\n').map((text) => JSON.parse(text)).find((entry) => entry.request_id === response.body.request_id);
      expect(line).toMatchObject({ msg: 'request', status: 409, operation_id: 'appendMessages', problem: '/problems/session-closed' });
      expect(JSON.stringify(line)).not.toContain('hi');
    } finally {
      await service.stop();
      await database.drop();
    }
  });
});

describe('a streamed body that fails after its 200', () => {
  /** An instance logging JSON into memory, and a session whose export outlasts the socket's buffers. */
  async function exportingService() {
    const database = await createTestDatabase();
    const out = fakeStdout(false);
    const service = await startInstance(database.url, {}, createLogger('info', { format: 'json', destination: out.stream }));
    const session = (await service.api.post('/sessions', { user_id: 'exporter' })).body;
    for (let batch = 0; batch < 10; batch++) {
      const messages = Array.from({ length: 100 }, () => ({ role: 'user', content: [{ type: 'text', text: 'z'.repeat(5000) }] }));
      expect((await service.api.post(`/sessions/${session.id}/messages`, { messages })).status).toBe(201);
    }
    const entries = () => out.text().trim().split('\n').map((text) => JSON.parse(text) as Record<string, unknown>);
    const stop = async () => {
      await service.stop();
      await database.drop();
    };
    return { service, database, url: new URL(`/api/v1/sessions/${session.id}/export`, service.origin), entries, stop };
  }

  /** The export's transaction, waiting for the reader (idle in transaction): its backend pids. */
  const waitingExports = (databaseUrl: string) =>
    withClient(databaseUrl, async (client) => {
      const { rows } = await client.query(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
      );
      return rows.map((row) => row.pid as number);
    });

  it('is logged as an error with its request id when the database fails mid-export', async () => {
    const { service, url, entries, stop } = await exportingService();
    try {
      const requestId = await new Promise<string>((resolve, reject) => {
        const request = httpRequest(url, (response) => {
          response.pause(); // the export fills the socket, then waits for us inside its transaction
          const id = String(response.headers['x-request-id']);
          expect.poll(() => waitingExports(service.databaseUrl), { timeout: 5_000 }).toHaveLength(1).then(async () => {
            const [pid] = await waitingExports(service.databaseUrl);
            await withClient(service.databaseUrl, (client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
            response.on('error', () => resolve(id)).on('aborted', () => resolve(id)).on('end', () => resolve(id));
            response.resume();
          }, reject);
        });
        request.on('error', () => {});
        request.end();
      });
      await expect
        .poll(() => entries().find((entry) => entry.msg === 'response cut short: the body failed after its headers were sent'), { timeout: 5_000 })
        .toMatchObject({ level: 'error', request_id: requestId, operation_id: 'exportSession', status: 200 });
    } finally {
      await stop();
    }
  });

  it('is not logged when the reader hangs up: that is the reader\'s doing', async () => {
    const { service, url, entries, stop } = await exportingService();
    try {
      await new Promise<void>((resolve) => {
        const request = httpRequest(url, (response) => response.once('data', () => (request.destroy(), resolve())));
        request.on('error', () => {});
        request.end();
      });
      await expect.poll(() => waitingExports(service.databaseUrl), { timeout: 5_000 }).toHaveLength(0);
      expect(entries().filter((entry) => entry.level === 'error')).toEqual([]);
    } finally {
      await stop();
    }
  });
});
