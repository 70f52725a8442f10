/** The embedded PostgreSQL (src/db/embedded.ts) as a process hosting it sees it. */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { spawnService } from './support/child-service.ts';
import { freePort } from './support/pg.ts';

const embedded = fileURLToPath(new URL('../src/db/embedded.ts', import.meta.url));

it('leaves the exit code of the process that used it alone (a test run with failures exits 1)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'chat-sessions-exit-'));
  chmodSync(root, 0o755);
  try {
    const script = `
      import { startEmbeddedPostgres } from ${JSON.stringify(embedded)};
      const postgres = await startEmbeddedPostgres({ dir: ${JSON.stringify(join(root, 'data'))}, port: ${await freePort()} });
      await postgres.stop();
      process.exitCode = 3;`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(3);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

it.runIf(process.getuid?.() === 0)(
  'in a clone that the postgres user cannot enter (mktemp -d is 0700), says which folder and what to do, not a bare EACCES',
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'chat-sessions-clone-')); // 0700, as a CI checkout's parent often is
    const data = mkdtempSync(join(tmpdir(), 'chat-sessions-data-'));
    chmodSync(data, 0o755);
    try {
      // A clone's own node_modules, whose PostgreSQL programs postgres must be able to reach.
      mkdirSync(join(root, 'src', 'db'), { recursive: true });
      copyFileSync(embedded, join(root, 'src', 'db', 'embedded.ts'));
      execFileSync('cp', ['-al', fileURLToPath(new URL('../node_modules', import.meta.url)), root]);
      const script = `
        import { startEmbeddedPostgres } from ${JSON.stringify(join(root, 'src', 'db', 'embedded.ts'))};
        await startEmbeddedPostgres({ dir: ${JSON.stringify(join(data, 'pg'))}, port: ${await freePort()} });`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const [code] = await once(child, 'exit');
      expect(code).not.toBe(0);
      expect(stderr).toContain(`cannot enter ${root} (to run its programs`);
      expect(stderr).toContain(`chmod o+x ${root}`);
      expect(stderr).not.toContain('EACCES');
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(data, { recursive: true, force: true });
    }
  },
);

it('the service logs an error naming the embedded PostgreSQL when it dies (kill -9), not only 503s', async () => {
  const root = mkdtempSync(join(tmpdir(), 'chat-sessions-died-'));
  chmodSync(root, 0o755);
  const dir = join(root, 'data');
  const service = spawnService({ EMBEDDED_PG_DIR: dir, EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: '' });
  try {
    const url = await service.ready;
    const postmaster = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    await expect.poll(() => service.logs.some((line) => line.includes('the embedded PostgreSQL exited')), { timeout: 10_000 }).toBe(true);
    const logged = JSON.parse(service.logs.find((line) => line.includes('the embedded PostgreSQL exited'))!);
    expect(logged).toMatchObject({ level: 'error', signal: 'SIGKILL' });
    expect((await fetch(`${url}/api/v1/health`)).status).toBe(503);
  } finally {
    service.process.kill('SIGTERM');
    await service.exited;
    rmSync(root, { recursive: true, force: true });
  }
});
