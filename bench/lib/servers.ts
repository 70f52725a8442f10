/**
 * Child processes of the benchmark (our service, the floor) and the guarantee that every one of
 * them is stopped, whatever happens: normal end, exception, Ctrl-C, SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type Server = {
  name: string;
  pid: number;
  url: string;
  child: ChildProcess;
  stop: () => Promise<void>;
  /** Starts the same server again (a new process), when it died under us. */
  restart?: () => Promise<Server>;
  /** Set when the process ended without being asked to: code, signal. */
  death?: string;
};

const children = new Set<ChildProcess>();
/** Children we asked to stop: any other exit is reported. */
const stopping = new WeakSet<ChildProcess>();
const cleanups: Array<() => Promise<void>> = [];
let handlersInstalled = false;

/** Registers work to run on exit (last registered runs first), e.g. stopping PostgreSQL. */
export function onCleanup(cleanup: () => Promise<void>): void {
  installHandlers();
  cleanups.push(cleanup);
}

export async function cleanUp(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch((error: unknown) => console.error('clean-up failed:', error));
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping every process the benchmark started…`);
      const hard = setTimeout(() => process.exit(130), 20_000);
      cleanUp().finally(() => {
        clearTimeout(hard);
        process.exit(130);
      });
    });
  }
  // Last resort (an exit that skipped the finally blocks): no child outlives us.
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}

function stopChild(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return Promise.resolve();
  }
  stopping.add(child);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      children.delete(child);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

type StartOptions = {
  name: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  /** Polling interval of the readiness probe. */
  pollMs?: number;
  timeoutMs?: number;
  /** Called with the child's pid right after it is spawned (e.g. to move it into a cgroup). */
  onSpawn?: (pid: number) => void;
};

/**
 * Spawns `node <args>` and waits for its first 200 on /api/v1/health. Returns the process and
 * the time from spawn to that first 200.
 */
export async function startServer({ name, args, env, port, pollMs = 5, timeoutMs = 60_000, onSpawn }: StartOptions): Promise<{ server: Server; startupMs: number }> {
  installHandlers();
  const output: string[] = [];
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  if (onSpawn) {
    try {
      onSpawn(child.pid!);
    } catch (error) {
      await stopChild(child);
      throw error;
    }
  }
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 50) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  let death: string | undefined;
  child.once('exit', (code, signal) => {
    exited = true;
    if (!stopping.has(child)) {
      death = `exit code ${code}, signal ${signal}`;
      if (server) server.death = death;
      console.error(`${name} (pid ${child.pid}) ended without being asked to: ${death}\n${output.join('').slice(-4000)}`);
    }
  });
  let server: Server | undefined;

  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (exited) throw new Error(`${name} exited before answering:\n${output.join('')}`);
    if ((await probe(`${url}/api/v1/health`)) === 200) break;
    if (performance.now() - started > timeoutMs) {
      await stopChild(child);
      throw new Error(`${name} did not answer 200 on /api/v1/health within ${timeoutMs} ms:\n${output.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const startupMs = performance.now() - started;
  server = { name, pid: child.pid!, url, child, stop: () => stopChild(child), ...(death ? { death } : {}) };
  return { server, startupMs };
}

/** Status code of a GET, or 0 when nothing answers. */
export function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2_000, () => req.destroy());
    req.end();
  });
}
