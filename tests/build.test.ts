import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDocsPage, docsPagePath } from '../src/http/docs.ts';
import { spawnService } from './support/child-service.ts';
import { createApiClient } from './support/client.ts';
import { databaseUrlFor, withClient } from './support/pg.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
let out: string;

beforeAll(async () => {
  if (!existsSync(docsPagePath)) await buildDocsPage(); // what make build ships (make docs)
  // Inside the repository, as dist/ is: the packages the bundle leaves out are found in node_modules.
  mkdirSync(join(root, 'test-output'), { recursive: true });
  out = mkdtempSync(join(root, 'test-output', 'build-'));
  execFileSync(process.execPath, ['scripts/build.ts', out], { cwd: root, stdio: 'pipe' });
}, 60_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the production build (make build: scripts/build.ts)', () => {
  it('is a bundle with what it reads at run time beside it', () => {
    for (const file of ['src/start.js', 'package.json', 'openapi.yaml', 'openapi.json', 'sql']) expect(existsSync(join(out, file)), file).toBe(true);
  });

  it('starts on an empty database, migrates it, answers, and exits 0 on SIGTERM', async () => {
    const serverUrl = inject('serverUrl');
    const name = `build_${Math.random().toString(36).slice(2, 10)}`;
    await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
    const service = spawnService({ DATABASE_URL: databaseUrlFor(serverUrl, name) }, join(out, 'src/start.js'));
    try {
      const api = createApiClient(await service.ready);
      expect((await api.get('/health')).status).toBe(200);
      const created = await api.post('/sessions', { user_id: 'built', title: ' from dist ' });
      expect(created.status).toBe(201);
      expect((await api.get(`/sessions/${created.body.id}`)).body.title).toBe('from dist');
      expect((await api.request('POST', '/sessions', { raw: '{', contentType: 'application/json' })).status).toBe(400);
      // The page it ships is served as it is: not found stale and rebuilt (which needs a dev dependency).
      const page = join(out, 'docs', 'index.html');
      const shipped = statSync(page).mtimeMs;
      expect((await fetch(`${await service.ready}/docs`)).status).toBe(200);
      expect(statSync(page).mtimeMs).toBe(shipped);
      service.process.kill('SIGTERM');
      expect(await service.exited).toBe(0);
    } finally {
      service.process.kill('SIGKILL');
      await withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    }
  }, 60_000);
});
