/**
 * The breaking-change gate (make contract-diff, scripts/contract-diff.sh) fails on changes that
 * break clients and passes additive ones. Needs Optic in tools/contract-diff, which `make lint`
 * (and `make contract-diff`) install; skipped, saying so, where it is not installed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const root = new URL('../', import.meta.url).pathname;
const installed = existsSync(join(root, 'tools/contract-diff/node_modules/.bin/optic'));
const dir = mkdtempSync(join(tmpdir(), 'contract-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the gate on openapi.yaml as committed at HEAD, altered by `change`. */
async function gate(name: string, change: (spec: any) => void): Promise<{ code: number; output: string }> {
  const spec = parse(readFileSync(join(root, 'openapi.yaml'), 'utf8'));
  change(spec);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(spec));
  try {
    const { stdout, stderr } = await promisify(execFile)('bash', ['scripts/contract-diff.sh'], {
      cwd: root,
      env: { ...process.env, CONTRACT_BASE: 'HEAD', CONTRACT_FILE: file },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

describe.skipIf(!installed)('make contract-diff (Optic)', () => {
  it('passes an additive change: a new optional response field and a new operation', async () => {
    const { code, output } = await gate('additive', (spec) => {
      spec.components.schemas.Session.properties.message_count = { type: 'integer', description: 'Messages so far.' };
      spec.paths['/sessions/{id}/archive'] = {
        post: { ...spec.paths['/sessions/{id}'].patch, operationId: 'archiveSession', requestBody: undefined },
      };
    });
    expect(code, output).toBe(0);
  }, 60_000);

  // One run of the gate for all of them (each Optic run takes seconds): each must be reported.
  it('fails on each breaking change: removed operation, removed field, new required input, removed enum value, changed status, narrowed type', async () => {
    const { code, output } = await gate('breaking', (spec) => {
      delete spec.paths['/sessions/{id}'].delete;
      delete spec.components.schemas.Session.properties.metadata;
      spec.components.schemas.Session.required = spec.components.schemas.Session.required.filter((name: string) => name !== 'metadata');
      spec.paths['/sessions'].get.parameters.find((parameter: any) => parameter.name === 'user_id').required = true;
      spec.components.schemas.SessionStatus.enum = ['active', 'archived'];
      const responses = spec.paths['/sessions'].post.responses;
      responses['200'] = responses['201'];
      delete responses['201'];
      spec.paths['/sessions'].get.parameters.find((parameter: any) => parameter.name === 'limit').schema = { type: 'string' };
    });
    expect(code, output).not.toBe(0);
    for (const message of [
      /cannot remove an operation/,
      /cannot remove response property 'metadata'/,
      /cannot make optional query parameter 'user_id' required/,
      /cannot remove enum option 'closed'/,
      /must not remove response status code 201/,
      /query parameter 'limit' not be narrowed/,
    ]) {
      expect(output).toMatch(message);
    }
  }, 90_000);
});

if (!installed) console.log('tests/contract-diff.test.ts: Optic is not installed; `make contract-diff` (or `make lint`) installs it');
