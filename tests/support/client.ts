import { basePath, contractViolations } from './contract.ts';
import { thirdPartyViolations } from './third-party.ts';
import { isJsonMediaType } from './contract.ts';

export type ApiResponse<T = any> = { status: number; headers: Headers; body: T; text: string };

export type RequestOptions = {
  /** A JSON value to send (as application/json unless contentType says otherwise). */
  json?: unknown;
  /** Raw bytes or text to send as they are. */
  raw?: string | Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
};

/**
 * HTTP client for tests. Every response it receives is checked against openapi.yaml, so no test
 * can forget to: a response the contract does not allow fails the test that got it. Checked twice:
 * by our own reading of the contract (./contract.ts) and by a third-party validator
 * (./third-party.ts), which also fails a test whose request body the contract rejects but the
 * server accepted.
 */
export function createApiClient(origin: string) {
  async function request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = `${origin}${path.startsWith('/api/') ? path : basePath + path}`;
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Uint8Array | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = options.contentType ?? 'application/json';
    } else if (options.raw !== undefined) {
      body = options.raw;
      if (options.contentType) headers['content-type'] = options.contentType;
    }
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    if (isJsonMediaType(response.headers.get('content-type')) && text !== '') parsed = JSON.parse(text);
    const received = { status: response.status, headers: response.headers, body: parsed as T, text };
    const contentType = Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1];
    const sent = { body, contentType };
    const violations = [...contractViolations(method, url, received), ...(await thirdPartyViolations(method, url, sent, received))];
    if (violations.length) {
      throw new Error(`${method} ${path} → ${response.status} breaks openapi.yaml:\n  ${violations.join('\n  ')}`);
    }
    return received;
  }

  return {
    request,
    get: <T = any>(path: string, options?: RequestOptions) => request<T>('GET', path, options),
    post: <T = any>(path: string, json?: unknown, options?: RequestOptions) => request<T>('POST', path, { json, ...options }),
    patch: <T = any>(path: string, json?: unknown, options?: RequestOptions) =>
      request<T>('PATCH', path, { json, contentType: 'application/merge-patch+json', ...options }),
    delete: <T = any>(path: string, options?: RequestOptions) => request<T>('DELETE', path, options),
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
