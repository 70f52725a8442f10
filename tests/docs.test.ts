import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { useTestService } from './support/service.ts';

const service = useTestService();
const get = (path: string, headers: Record<string, string> = {}) => fetch(`${service.origin}${path}`, { headers });
const contractText = readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8');

describe('the contract is served as it is written', () => {
  it('GET /openapi.yaml is the file itself, as application/yaml', async () => {
    const response = await get('/openapi.yaml');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/yaml; charset=utf-8');
    expect(await response.text()).toBe(contractText);
    expect(response.headers.get('x-request-id')).toBeTruthy();
  });

  it('GET /openapi.json is the same document, converted from the YAML', async () => {
    const response = await get('/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual(parse(contractText));
  });

  it('both answer 304 to a matching If-None-Match', async () => {
    for (const path of ['/openapi.yaml', '/openapi.json', '/docs']) {
      const first = await get(path);
      await first.arrayBuffer();
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[^"]+"$/);
      const again = await get(path, { 'If-None-Match': etag });
      expect(again.status, path).toBe(304);
      expect(await again.text()).toBe('');
    }
  });

  it('are gzipped for clients that accept it', async () => {
    const response = await get('/openapi.json', { 'Accept-Encoding': 'gzip' });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(await response.json()).toEqual(parse(contractText)); // fetch decompresses
  });

  it('other methods are not routes: a 404 problem, like any unknown path', async () => {
    const response = await fetch(`${service.origin}/openapi.json`, { method: 'POST' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('GET /docs', () => {
  it('is the Redoc page of this contract, self-contained: nothing is loaded from another origin', async () => {
    const response = await get('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toContain('<title>Chat Sessions API</title>');
    expect(html).toContain('__redoc_definition');
    // No script, stylesheet, font or image is fetched from elsewhere.
    expect(html.match(/<(script|link|img)\b[^>]*\b(src|href)=["']?https?:/gi) ?? []).toEqual([]);
    // and the browser is told so
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("connect-src 'self'");
  });
});
