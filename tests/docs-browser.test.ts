/**
 * The docs page as a reader sees it: Debian's headless Chromium (never a downloaded browser)
 * opens GET /docs with every request to anywhere but our server blocked, so the page must render
 * from what we serve alone. Screenshots land in test-output/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAPIV3_1 } from 'openapi-types';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spec } from './support/contract.ts';
import { useTestService } from './support/service.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const outputDir = new URL('../test-output/', import.meta.url).pathname;

const service = useTestService();

type Outside = { url: string; type: string };
let context: BrowserContext;
let page: Page;
let profile: string;
const blocked: Outside[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium is missing at ${executablePath}: run scripts/ensure-chromium.sh (make test does)`);
  }
  mkdirSync(outputDir, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'chat-sessions-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // The network is cut off from everything but our server.
  await context.route('**/*', (route) => {
    const request = route.request();
    if (request.url().startsWith(`${service.origin}/`)) return route.continue();
    blocked.push({ url: request.url(), type: request.resourceType() });
    return route.abort('blockedbyclient');
  });
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${service.origin}/docs`, { waitUntil: 'load' });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

const operations: OpenAPIV3_1.OperationObject[] = Object.values(spec.paths ?? {}).flatMap((item) =>
  (['get', 'post', 'patch', 'delete', 'put'] as const).flatMap((method) => {
    const operation = (item as OpenAPIV3_1.PathItemObject)[method];
    return operation ? [operation as OpenAPIV3_1.OperationObject] : [];
  }),
);

describe('GET /docs in a browser with no network but our server', () => {
  it('renders the API description, its sections and every tag', async () => {
    await expect.poll(() => page.locator('h1').first().textContent(), { timeout: 20_000 }).toContain(spec.info.title);
    const sidebar = page.locator('.menu-content');
    for (const section of ['Authentication', 'Errors', ...(spec.tags ?? []).map((tag) => tag.name)]) {
      await expect.poll(() => sidebar.getByText(section, { exact: true }).count(), { timeout: 10_000 }).toBeGreaterThan(0);
    }
    await page.screenshot({ path: join(outputDir, 'docs-overview.png') });
  });

  it('lists every operation of the contract under its tag, and shows an operation with its responses', async () => {
    const sidebar = page.locator('.menu-content');
    for (const tag of spec.tags ?? []) {
      await sidebar.getByText(tag.name, { exact: true }).first().click();
      for (const operation of operations.filter((candidate) => candidate.tags?.includes(tag.name))) {
        await expect
          .poll(() => sidebar.getByText(operation.summary!, { exact: true }).count(), { timeout: 10_000 })
          .toBe(1);
      }
    }
    await page.goto(`${service.origin}/docs#/sessions/createsession`);
    const content = page.locator('[data-component-name="Layout/ThreePanelLayout"]').first();
    await expect.poll(() => content.innerText(), { timeout: 10_000 }).toContain('Idempotency-Key');
    const text = await content.innerText();
    expect(text).toContain('Create a session');
    expect(text).toContain('/sessions');
    for (const status of Object.keys(operations.find((operation) => operation.operationId === 'createSession')!.responses!)) {
      expect(text).toContain(status);
    }
    await page.screenshot({ path: join(outputDir, 'docs-page.png') });
  });

  it('search finds an operation by a word of its description and opens it', async () => {
    await page.getByTestId('search-trigger').click();
    await page.getByPlaceholder('Search docs...').fill('merge patch');
    const dialog = page.getByTestId('search-dialog');
    await expect.poll(() => dialog.innerText(), { timeout: 10_000 }).toContain('Update a session');
    await page.screenshot({ path: join(outputDir, 'docs-search.png') });
    await dialog.getByText('Update a session').first().click();
    await expect.poll(() => page.url(), { timeout: 10_000 }).toMatch(/updatesession/i);
    await expect.poll(() => page.locator('h1, h2').filter({ hasText: 'Update a session' }).count(), { timeout: 10_000 }).toBeGreaterThan(0);
  });

  it('needed nothing from outside: no script, style, font or data was blocked, and no script failed', async () => {
    // The one thing Redoc asks for elsewhere is its own "API docs by Redocly" logo image, which it
    // hides when it cannot load (and our Content-Security-Policy forbids it anyway).
    expect(blocked.filter((request) => request.type !== 'image')).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
