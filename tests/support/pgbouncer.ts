/**
 * Debian's PgBouncer (installed by `make test`: scripts/ensure-pgbouncer.sh) in transaction mode
 * in front of a PostgreSQL: how managed PostgreSQL is often reached (Supabase's, RDS Proxy-like).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:net';
import { freePort } from './pg.ts';

export const PGBOUNCER = process.env.PGBOUNCER_PATH ?? '/usr/sbin/pgbouncer';
export const pgbouncerMissing = existsSync(PGBOUNCER)
  ? undefined
  : `PgBouncer is not installed at ${PGBOUNCER} and could not be (no apt as root): make test installs it where it can`;

export type PgBouncer = { port: number; logs: string[]; stop: () => Promise<void> };

/**
 * PgBouncer on a free port, forwarding every database to `backendPort`; `users` maps each role to
 * its password (PgBouncer logs in to PostgreSQL with it). Few server connections, so that
 * clients share them, as they do under load.
 */
export async function startPgBouncer({
  backendPort,
  users,
  settings = {},
}: {
  backendPort: number;
  users: Record<string, string>;
  settings?: Record<string, string>;
}): Promise<PgBouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-sessions-pgbouncer-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const userlist = Object.entries(users).map(([user, password]) => `"${user}" "${password}"`);
  writeFileSync(join(dir, 'userlist.txt'), `${userlist.join('\n')}\n`);
  const ini = {
    listen_addr: '127.0.0.1',
    listen_port: String(port),
    unix_socket_dir: '',
    auth_type: 'scram-sha-256',
    auth_file: join(dir, 'userlist.txt'),
    pool_mode: 'transaction',
    default_pool_size: '4',
    max_client_conn: '500',
    // As root, PgBouncer refuses to run unless told whom to become.
    ...(process.getuid?.() === 0 && { user: 'postgres' }),
    ...settings,
  };
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    ['[databases]', `* = host=127.0.0.1 port=${backendPort}`, '[pgbouncer]', ...Object.entries(ini).map(([k, v]) => `${k} = ${v}`), ''].join('\n'),
  );
  const child: ChildProcess = spawn(PGBOUNCER, [join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await listening(port, child, logs);
  return {
    port,
    logs,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function listening(port: number, child: ChildProcess, logs: string[]): Promise<void> {
  for (let waited = 0; waited < 5_000; waited += 25) {
    if (child.exitCode !== null) throw new Error(`PgBouncer exited (${child.exitCode}):\n${logs.join('')}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(() => resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`PgBouncer did not listen on ${port}:\n${logs.join('')}`);
}
