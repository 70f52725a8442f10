/** The embedded PostgreSQL (src/db/embedded.ts) as a process hosting it sees it. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
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
