import { contractViolations } from './contract.ts';

/**
 * A fetch that checks every response against openapi.yaml, like tests/support/client.ts does, for
 * clients that bring their own HTTP layer (openapi-fetch: `createSessionsClient(origin, { fetch })`).
 */
export async function checkedFetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const response = await fetch(request);
  const text = await response.clone().text();
  let body: unknown = text;
  if (/json/.test(response.headers.get('content-type') ?? '') && text !== '') body = JSON.parse(text);
  const violations = contractViolations(request.method, request.url, { status: response.status, headers: response.headers, body, text });
  if (violations.length) {
    throw new Error(`${request.method} ${request.url} → ${response.status} breaks openapi.yaml:\n  ${violations.join('\n  ')}`);
  }
  return response;
}
