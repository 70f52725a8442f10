import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

// The production entry point (src/start.ts: compile cache on, then src/main.ts).
const main = fileURLToPath(new URL('../../src/start.ts', import.meta.url));

export type ChildService = {
  process: ChildProcess;
  /** Resolves with the service's URL once it logs that it listens. */
  ready: Promise<string>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  logs: string[];
};

/** The service as its own process (`node src/start.ts`, or `entry`), for signals and exit codes. */
export function spawnService(env: Record<string, string>, entry = main): ChildService {
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const ready = new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'listening' && entry.url) resolve(entry.url);
        } catch {
          // not a log line
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`the service exited (${code}) before listening:\n${logs.join('\n')}`)));
  });
  ready.catch(() => {});
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  return { process: child, ready, exited, logs };
}
