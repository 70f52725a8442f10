/**
 * A second opinion on openapi.yaml from a validator we did not write and the server does not use:
 * @hyperjump/json-schema, reading the contract as an OpenAPI 3.1 document (its JSON Schema
 * dialect, `pattern` with the `u` flag as 2020-12 says, formats asserted). What a client generated
 * from the contract, or a validating proxy in front of the server, would conclude.
 */
import { registerSchema, setShouldValidateFormat, validate } from '@hyperjump/json-schema/openapi-3-1';
import '@hyperjump/json-schema/formats-lite';
import { declaredRequestSchema, declaredResponseSchema, type ReceivedResponse, spec } from './contract.ts';

setShouldValidateFormat(true);

const documentUri = 'https://chat-sessions.invalid/openapi.json';
registerSchema(structuredClone(spec) as never, documentUri, 'https://spec.openapis.org/oas/3.1/schema-base');

type Validator = Awaited<ReturnType<typeof validate>>;
const compiled = new Map<string, Promise<Validator>>();

/**
 * What is wrong with `value` against the schema at `pointer` (a JSON Pointer into the contract,
 * e.g. `#/components/schemas/Session`); empty when it is valid.
 */
export async function thirdPartyErrors(pointer: string, value: unknown): Promise<string[]> {
  let validator = compiled.get(pointer);
  if (!validator) {
    // A fragment is a URI: {id} and the like are percent-encoded.
    validator = validate(`${documentUri}#${pointer.slice(1).split('/').map(encodeURIComponent).join('/')}`);
    compiled.set(pointer, validator);
  }
  const output = (await validator)(value as never, 'BASIC');
  if (output.valid) return [];
  return (output.errors ?? []).map(
    (error) => `${error.instanceLocation} breaks ${decodeURIComponent(error.absoluteKeywordLocation.replace(documentUri, ''))}`,
  );
}

/** A request as sent: its body's text (JSON, when there is one) and content type. */
export type SentRequest = { body?: string | Uint8Array; contentType?: string };

/**
 * The ways an exchange breaks the contract in the third-party validator's reading: the response
 * body does not match what the contract declares for it, or the server accepted (a status below
 * 400) a request body that the contract rejects: a request the schema rejects must never be one
 * the server accepts.
 */
export async function thirdPartyViolations(method: string, url: string, request: SentRequest, response: ReceivedResponse): Promise<string[]> {
  if (['HEAD', 'OPTIONS'].includes(method.toUpperCase())) return [];
  const problems: string[] = [];
  const responseSchema = declaredResponseSchema(method, url, response);
  if (responseSchema && response.text !== '') {
    const errors = await thirdPartyErrors(responseSchema, response.body);
    if (errors.length) problems.push(`third-party validator: body does not match ${responseSchema}: ${errors.join('; ')}`);
  }
  const requestSchema = request.contentType ? declaredRequestSchema(method, url, request.contentType) : undefined;
  const text = request.body instanceof Uint8Array ? new TextDecoder().decode(request.body) : request.body;
  if (requestSchema && text !== undefined && response.status < 400) {
    // A body that is not JSON (JSON Lines) is the string its schema describes.
    const body = /(^|[/+])json$/.test(request.contentType!.split(';')[0]!.trim()) ? parseJson(text) : { parsed: true as const, value: text };
    const errors = body.parsed ? await thirdPartyErrors(requestSchema, body.value) : ['not JSON'];
    if (errors.length) {
      problems.push(`the server accepted a request body the contract rejects (${requestSchema}, third-party validator): ${errors.join('; ')}`);
    }
  }
  return problems;
}

/** JSON text as RFC 8259 lets a parser read it: a leading byte order mark may be ignored. */
function parseJson(text: string): { parsed: true; value: unknown } | { parsed: false } {
  try {
    return { parsed: true, value: JSON.parse(text.replace(/^\uFEFF/, '')) };
  } catch {
    return { parsed: false };
  }
}
