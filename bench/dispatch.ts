/**
 * Why the contract is routed by @koa/router rather than by openapi-backend's handleRequest:
 * the same Koa app, the same contract and the same compiled validators, A/B interleaved on
 * loopback. No database: it measures the request path itself (`make bench-dispatch`).
 */
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import Koa from 'koa';
import { type Context, OpenAPIBackend } from 'openapi-backend';
import { createContractRouter, unroutedRequests } from '../src/contract/dispatch.ts';
import { loadSpec } from '../src/contract/spec.ts';
import type { Handlers } from '../src/contract/types.ts';
import { createAjvCustomizer } from '../src/contract/validation.ts';
import { problems } from '../src/http/problems.ts';
import { requestId } from '../src/http/request-id.ts';

const session = {
  id: '3f1c2a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f',
  user_id: 'user_42',
  title: 'Quarterly report questions',
  status: 'active' as const,
  is_active: true,
  metadata: { model: 'gpt-4o' },
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};
const reply = async () => ({ status: 200, body: session, headers: { ETag: '"1"' } });
const handlers = Object.fromEntries(
  ['getHealth', 'getLiveness', 'createSession', 'listSessions', 'getSession', 'updateSession', 'deleteSession'].map((id) => [id, reply]),
) as unknown as Handlers;

async function ours(): Promise<Koa<any, any>> {
  const router = await createContractRouter({ spec: await loadSpec(), handlers, bodyLimit: 65536 });
  return new Koa().use(requestId).use(problems).use(router.routes()).use(unroutedRequests(router));
}

async function openapiBackendRouting(): Promise<Koa<any, any>> {
  const api = new OpenAPIBackend({ definition: (await loadSpec()) as never, quick: true, customizeAjv: createAjvCustomizer(), apiRoot: '/api/v1' });
  api.register({
    getSession: async (context: Context) => {
      const valid = context.validation;
      if (!valid.valid) return { status: 400, body: valid.errors };
      return { status: 200, body: session };
    },
    notFound: async () => ({ status: 404, body: {} }),
  });
  api.register('notImplemented', async () => ({ status: 501, body: {} }));
  await api.init();
  return new Koa().use(requestId).use(problems).use(async (ctx) => {
    const result = (await api.handleRequest({
      method: ctx.method,
      path: ctx.path,
      query: ctx.querystring,
      headers: ctx.headers as Record<string, string>,
    })) as { status: number; body: unknown };
    ctx.status = result.status;
    ctx.body = result.body;
  });
}

async function measure(app: Koa<any, any>, seconds: number): Promise<number> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/api/v1/sessions/3f1c2a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f`,
    connections: 10,
    duration: seconds,
  });
  server.close();
  if (result.non2xx) throw new Error(`${result.non2xx} non-2xx responses`);
  return result.requests.average;
}

const apps = { '@koa/router + compiled validators': await ours(), 'openapi-backend handleRequest': await openapiBackendRouting() };
const rounds: Record<string, number[]> = {};
for (let round = 0; round < 3; round++) {
  for (const [name, app] of Object.entries(apps)) (rounds[name] ??= []).push(await measure(app, 3));
}
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const floor = median(rounds['openapi-backend handleRequest']!);
console.log('GET /api/v1/sessions/{id}, no database, 10 connections, 3 × 3 s interleaved (median req/s):');
for (const [name, values] of Object.entries(rounds)) {
  console.log(`  ${name.padEnd(36)} ${Math.round(median(values)).toString().padStart(7)} req/s  ×${(median(values) / floor).toFixed(2)}`);
}
