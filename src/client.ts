/**
 * A typed client of this API, generated from the contract: openapi-typescript turns openapi.yaml
 * into `generated/openapi.ts` (make generate), and openapi-fetch types every call by it. A call
 * the contract does not allow (an unknown path or method, a missing or misspelt field, a wrong
 * type) does not compile. Other teams generate theirs the same way (docs/contract.md, "Generating a client").
 *
 *   const api = createSessionsClient('http://localhost:8080', { token });
 *   const { data, error, response } = await api.POST('/sessions', { body: { user_id: 'user_42' } });
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from '../generated/openapi.ts';

export type { components, operations, paths };
export type Session = components['schemas']['Session'];
export type SessionCreate = components['schemas']['SessionCreate'];
export type SessionPatch = components['schemas']['SessionPatch'];
export type SessionList = components['schemas']['SessionList'];
export type Message = components['schemas']['Message'];
export type MessageCreate = components['schemas']['MessageCreate'];
export type MessagePatch = components['schemas']['MessagePatch'];
export type MessageList = components['schemas']['MessageList'];
export type ContentPart = components['schemas']['ContentPart'];
export type Problem = components['schemas']['Problem'];
export type SessionsClient = Client<paths>;

export type SessionsClientOptions = Omit<ClientOptions, 'baseUrl'> & {
  /** A bearer JWT sent as `Authorization: Bearer …` on every request. */
  token?: string;
};

/** A client of the API served at `origin` (its base path, /api/v1, is added). */
export function createSessionsClient(origin: string, { token, ...options }: SessionsClientOptions = {}): SessionsClient {
  const client = createClient<paths>({ ...options, baseUrl: `${origin.replace(/\/+$/, '')}/api/v1` });
  if (token !== undefined) {
    client.use({
      onRequest({ request }) {
        request.headers.set('Authorization', `Bearer ${token}`);
        return request;
      },
    });
  }
  return client;
}
