import { contractViolations } from './contract.ts';
import { thirdPartyViolations } from './third-party.ts';
import { isJsonMediaType } from './contract.ts';

/**
 * A fetch that checks every response against openapi.yaml, like tests/support/client.ts does (with
 * both readings of the contract), for clients that bring their own HTTP layer (openapi-fetch:
 * `createSessionsClient(origin, { fetch })`).
 */
export async function checkedFetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const sent = { body: await request.clone().text(), contentType: request.headers.get('content-type') ?? undefined };
  const response = await fetch(request);
  const text = await response.clone().text();
  let body: unknown = text;
  if (isJsonMediaType(response.headers.get('content-type')) && text !== '') body = JSON.parse(text);
  const received = { status: response.status, headers: response.headers, body, text };
  const violations = [...contractViolations(request.method, request.url, received), ...(await thirdPartyViolations(request.method, request.url, sent, received))];
  if (violations.length) {
    throw new Error(`${request.method} ${request.url} → ${response.status} breaks openapi.yaml:\n  ${violations.join('\n  ')}`);
  }
  return response;
}
