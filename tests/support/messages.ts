/** Helpers for the messages tests: a session to talk in, appends, and a look at the table. */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { ApiClient, RequestOptions } from './client.ts';
import { withClient } from './database.ts';
import type { TestService } from './service.ts';

export type Part = Record<string, unknown>;
export type MessageInput = Record<string, unknown> & { role?: string; content?: Part[] };

export const text = (value: string): Part => ({ type: 'text', text: value });
export const user = (value = 'hello', extra: Record<string, unknown> = {}): MessageInput => ({
  role: 'user',
  content: [text(value)],
  ...extra,
});
/** An assistant message that is about to be streamed into. */
export const streaming = (content: Part[] = []): MessageInput => ({ role: 'assistant', status: 'in_progress', content });

export function messagesOf(service: TestService, options: RequestOptions = {}) {
  // The service is started in beforeAll: look its client up at each call.
  const api = { request: (...args: Parameters<ApiClient['request']>) => service.api.request(...args),
    get: (...args: Parameters<ApiClient['get']>) => service.api.get(...args),
    post: (...args: Parameters<ApiClient['post']>) => service.api.post(...args),
    patch: (...args: Parameters<ApiClient['patch']>) => service.api.patch(...args),
    delete: (...args: Parameters<ApiClient['delete']>) => service.api.delete(...args) };
  const base = (sessionId: string) => `/sessions/${sessionId}/messages`;
  return {
    /** A fresh session of a fresh user (or of `user_id` when given). */
    async session(body: Record<string, unknown> = {}) {
      const response = await api.post('/sessions', { user_id: `msg_${randomUUID()}`, ...body }, options);
      expect(response.status, response.text).toBe(201);
      return response.body as { id: string; user_id: string; message_count: number; last_message_at: string | null };
    },
    append: (sessionId: string, messages: MessageInput[], extra: RequestOptions = {}) =>
      api.post(base(sessionId), { messages }, merge(options, extra)),
    appendRaw: (sessionId: string, raw: string | Uint8Array, extra: RequestOptions = {}) =>
      api.request('POST', base(sessionId), merge(options, { raw, contentType: 'application/json', ...extra })),
    /** Appends and expects a 201; answers the stored messages. */
    async appendOk(sessionId: string, messages: MessageInput[], extra: RequestOptions = {}) {
      const response = await api.post(base(sessionId), { messages }, merge(options, extra));
      expect(response.status, response.text.slice(0, 500)).toBe(201);
      return response.body.items as any[];
    },
    list: (sessionId: string, query = '', extra: RequestOptions = {}) =>
      api.get(`${base(sessionId)}${query ? `?${query}` : ''}`, merge(options, extra)),
    get: (sessionId: string, messageId: string, extra: RequestOptions = {}) =>
      api.get(`${base(sessionId)}/${messageId}`, merge(options, extra)),
    patch: (sessionId: string, messageId: string, body: unknown, extra: RequestOptions = {}) =>
      api.patch(`${base(sessionId)}/${messageId}`, body, merge(options, extra)),
    patchRaw: (sessionId: string, messageId: string, raw: string) =>
      api.request('PATCH', `${base(sessionId)}/${messageId}`, merge(options, { raw, contentType: 'application/merge-patch+json' })),
    appendText: (sessionId: string, messageId: string, value: string, extra: RequestOptions = {}) =>
      api.post(`${base(sessionId)}/${messageId}/append`, { text: value }, merge(options, extra)),
    remove: (sessionId: string, messageId: string, extra: RequestOptions = {}) =>
      api.delete(`${base(sessionId)}/${messageId}`, merge(options, extra)),
    getSession: (sessionId: string, extra: RequestOptions = {}) => api.get(`/sessions/${sessionId}`, merge(options, extra)),
  };
}

function merge(a: RequestOptions, b: RequestOptions): RequestOptions {
  return { ...a, ...b, headers: { ...a.headers, ...b.headers } };
}

/** The rows of chat_messages of a session, in seq order, as the table holds them. */
export async function storedMessages(service: TestService, sessionId: string) {
  return withClient(service.databaseUrl, async (client) => {
    const result = await client.query(
      'SELECT id, seq, parent_id, role, content, content_bytes, status FROM chat_messages WHERE session_id = $1 ORDER BY seq',
      [sessionId],
    );
    return result.rows as { id: string; seq: number; parent_id: string | null; role: string; content: Part[]; content_bytes: number; status: string }[];
  });
}

/** A problem of this status and type. */
export function expectProblem(response: { status: number; text: string; body: any }, status: number, type: string): void {
  expect(response.status, response.text.slice(0, 500)).toBe(status);
  expect(response.body.type).toBe(`/problems/${type}`);
}
