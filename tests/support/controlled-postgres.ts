/**
 * A PostgreSQL of a test's own, which the test stops and starts: fault injection against a real
 * server (fast and immediate shutdowns, restarts on the same data and port).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { freePort } from './pg.ts';

export { freePort } from './pg.ts';

export type ControlledPostgres = {
  url: string;
  port: number;
  start: () => Promise<void>;
  /** `fast` rolls back open transactions and closes connections; `immediate` is a crash. */
  stop: (mode?: 'fast' | 'immediate') => Promise<void>;
  destroy: () => Promise<void>;
};

export async function createControlledPostgres({ started = true } = {}): Promise<ControlledPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'chat-sessions-fault-'));
  chmodSync(root, 0o755);
  const dir = join(root, 'data');
  const port = await freePort();
  let running: EmbeddedPostgres | undefined;

  const postmasterPid = () => Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const control: ControlledPostgres = {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      running = await startEmbeddedPostgres({ dir, port });
    },
    async stop(mode = 'fast') {
      if (!running) return;
      if (mode === 'fast') {
        await running.stop();
      } else {
        const pid = postmasterPid();
        process.kill(pid, 'SIGQUIT');
        while (existsSync(join(dir, 'postmaster.pid')) && isAlive(pid)) await sleep(20);
        await running.stop(); // reaps the child; nothing left to stop
      }
      running = undefined;
    },
    async destroy() {
      await control.stop('fast').catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
  if (started) await control.start();
  return control;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
