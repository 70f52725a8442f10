import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { createContractRouter, unroutedRequests } from '../src/contract/dispatch.ts';
import { loadSpec } from '../src/contract/spec.ts';
import type { Handler, Handlers } from '../src/contract/types.ts';
import { problems } from '../src/http/problems.ts';
import { requestId } from '../src/http/request-id.ts';
import { createApiClient } from './support/client.ts';

const unexpected = async (): Promise<never> => {
  throw new Error('the handler must not be reached');
};
// One handler per operation the contract declares, none of which may be reached.
const operationIds = Object.values((await loadSpec()).paths ?? {}).flatMap((item) =>
  Object.values(item ?? {}).flatMap((operation) => {
    const id = (operation as { operationId?: unknown } | undefined)?.operationId;
    return typeof id === 'string' ? [id] : [];
  }),
);
const allHandlers = (): Record<string, (...args: unknown[]) => Promise<never>> =>
  Object.fromEntries(operationIds.map((id) => [id, unexpected]));

describe('the contract decides which handlers exist', () => {
  it('start-up fails when an operation of the contract has no handler', async () => {
    const { deleteSession: _removed, ...handlers } = allHandlers();
    await expect(
      createContractRouter({ spec: await loadSpec(), handlers: handlers as unknown as Handlers, bodyLimit: 1024 }),
    ).rejects.toThrow(/missing \[deleteSession\]/);
  });

  it('start-up fails when a handler answers an operation the contract lacks', async () => {
    const handlers = { ...allHandlers(), archiveEverything: unexpected };
    await expect(
      createContractRouter({ spec: await loadSpec(), handlers: handlers as unknown as Handlers, bodyLimit: 1024 }),
    ).rejects.toThrow(/not in the contract \[archiveEverything\]/);
  });
});

describe('limits declared in openapi.yaml are enforced by the contract layer', () => {
  it('a user_id over 255 characters is rejected before any handler runs', async () => {
    const calls: unknown[] = [];
    const record: Handler<'createSession'> = async (request) => {
      calls.push(request);
      throw new Error('not reached');
    };
    const router = await createContractRouter({
      spec: await loadSpec(),
      handlers: { ...allHandlers(), createSession: record } as unknown as Handlers,
      bodyLimit: 64 * 1024,
    });
    const app = new Koa();
    app.use(requestId).use(problems).use(router.routes()).use(unroutedRequests(router));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const address = server.address() as { port: number };
      const api = createApiClient(`http://127.0.0.1:${address.port}`);
      const response = await api.post('/sessions', { user_id: 'u'.repeat(256) });
      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([
        { in: 'body', pointer: '/user_id', message: 'user_id must be at most 255 characters' },
      ]);
      expect(calls).toEqual([]);
    } finally {
      server.close();
    }
  });
});

describe('handlers are typed from generated/ (checked by tsc in make test)', () => {
  it('a reply with an undeclared status or a wrong body does not compile', () => {
    // @ts-expect-error 202 is not a status the contract declares for getSession
    const wrongStatus: Handler<'getSession'> = async () => ({ status: 202, body: undefined, headers: {} });
    // @ts-expect-error a session body lacks required fields
    const wrongBody: Handler<'getSession'> = async () => ({ status: 200, body: { id: 'x' }, headers: { ETag: '"1"' } });
    // @ts-expect-error the contract declares an ETag header on 200
    const missingHeader: Handler<'getSession'> = async () => ({ status: 200, body: {} as never, headers: {} });
    expect([wrongStatus, wrongBody, missingHeader]).toHaveLength(3);
  });
});
