/**
 * The contract as a product, outside the contract: the API reference page (Redoc, rendered by
 * `redocly build-docs --inlineBundle`, so it needs no network at all) and the contract itself as
 * YAML and as JSON. None of these are operations of openapi.yaml; they are mounted before the
 * contract routes (src/app.ts) and stay public.
 */
import Router from '@koa/router';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Context } from 'koa';
import { type Spec, specPath } from '../contract/spec.ts';
import { AppError } from '../errors.ts';
import { projectRoot } from '../paths.ts';

/** Where `make docs` writes the page, and where the server looks for it. */
export const docsPagePath = new URL('docs/index.html', projectRoot);
const redoclyConfigPath = new URL('redocly.yaml', projectRoot);

/**
 * Same-origin only: the page's scripts and styles are inline, and nothing may be fetched from
 * anywhere else (no CDN, no web font), so a browser enforces what the build promises.
 */
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join('; ');

type Asset = { body: Buffer; gzipped: Buffer; etag: string; type: string };

function asset(body: Buffer, type: string): Asset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, gzipped: gzipSync(body), etag, type };
}

/** An asset hashed and compressed on its first request: ~15 ms of start-up otherwise, for a request that may never come. */
function lazyAsset(body: () => Buffer, type: string): () => Asset {
  let made: Asset | undefined;
  return () => (made ??= asset(body(), type));
}

/** The fingerprint a built page carries: it is stale once the contract or the Redocly config change. */
export function docsFingerprint(): string {
  const hash = createHash('sha256');
  hash.update(readFileSync(specPath));
  if (existsSync(redoclyConfigPath)) hash.update(readFileSync(redoclyConfigPath));
  return hash.digest('hex');
}

const marker = (fingerprint: string) => `<!-- built from openapi.yaml, fingerprint ${fingerprint} -->\n`;

/** The Redocly CLI's entry script (a development dependency: `make build` ships the built page). */
function redoclyCli(): string {
  const require = createRequire(new URL('package.json', projectRoot));
  const manifestPath = require.resolve('@redocly/cli/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: Record<string, string> };
  return fileURLToPath(new URL(manifest.bin.redocly!, `file://${manifestPath}`));
}

/**
 * Renders openapi.yaml into one self-contained HTML file (`make docs` and the server's first
 * `GET /docs` when the file is missing or stale). Written to a temporary name and renamed, so
 * concurrent builds never expose half a page.
 */
export async function buildDocsPage(output: URL = docsPagePath): Promise<void> {
  const fingerprint = docsFingerprint();
  const temporary = new URL(`${output.href}.${randomBytes(6).toString('hex')}.tmp`);
  await mkdir(new URL('./', output), { recursive: true });
  try {
    await promisify(execFile)(
      process.execPath,
      [redoclyCli(), 'build-docs', fileURLToPath(specPath), '--inlineBundle', '-o', fileURLToPath(temporary)],
      { cwd: fileURLToPath(projectRoot), env: { ...process.env, REDOCLY_TELEMETRY: 'off' }, timeout: 60_000 },
    );
    await writeFile(temporary, marker(fingerprint), { flag: 'a' });
    await rename(temporary, output);
  } finally {
    await rm(temporary, { force: true });
  }
}

/** The page built for this very contract: the file `make docs` wrote, or a fresh build of it. */
async function loadDocsPage(): Promise<Asset> {
  const expected = marker(docsFingerprint());
  const existing = await readFile(docsPagePath, 'utf8').catch(() => undefined);
  if (existing?.endsWith(expected)) return asset(Buffer.from(existing), 'text/html; charset=utf-8');
  await buildDocsPage();
  return asset(await readFile(docsPagePath), 'text/html; charset=utf-8');
}

function send(ctx: Context, file: Asset, headers: Record<string, string> = {}): void {
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Vary', 'Accept-Encoding');
  for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
  ctx.etag = file.etag;
  ctx.type = file.type;
  ctx.status = 200;
  const noneMatch = ctx.get('If-None-Match').split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  if (noneMatch.includes(file.etag) || noneMatch.includes('*')) {
    ctx.status = 304;
    return;
  }
  if (ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
    ctx.set('Content-Encoding', 'gzip');
    ctx.body = file.gzipped;
  } else {
    ctx.body = file.body;
  }
}

/**
 * `GET /docs`, `GET /openapi.yaml`, `GET /openapi.json` (HEAD too). `spec` is the contract as
 * loaded from the YAML, before anything else touches it (the JSON is made from it, not parsed again).
 */
export function createDocsRouter(spec: Spec): Router {
  const yaml = lazyAsset(() => readFileSync(specPath), 'application/yaml; charset=utf-8');
  // Serialised now, as written (before anything else sees the document); compressed when asked for.
  const written = `${JSON.stringify(spec, null, 2)}\n`;
  const json = lazyAsset(() => Buffer.from(written), 'application/json; charset=utf-8');
  let page: Promise<Asset> | undefined;

  const router = new Router();
  router.get('/openapi.yaml', (ctx) => {
    ctx.state.route = '/openapi.yaml';
    send(ctx, yaml());
  });
  router.get('/openapi.json', (ctx) => {
    ctx.state.route = '/openapi.json';
    send(ctx, json());
  });
  router.get('/docs', async (ctx) => {
    ctx.state.route = '/docs';
    page ??= loadDocsPage().catch((cause: unknown) => {
      page = undefined; // try again on the next request
      const error = new AppError('service_unavailable', 'The API reference could not be built; run `make docs` and retry', {
        headers: { 'Retry-After': '5' },
      });
      error.cause = cause; // logged with the request line, never sent
      throw error;
    });
    send(ctx, await page, { 'Content-Security-Policy': contentSecurityPolicy });
  });
  return router;
}
