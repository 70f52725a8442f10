import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { acceptableRequestId } from './request-id.ts';

type ClientError = Error & { code?: string; rawPacket?: Buffer };

/**
 * Requests Node rejects before Koa sees them (headers over 16 KiB, malformed HTTP) still get a
 * problem document, written by hand on the socket, with a request id (the client's when it can be
 * read, as on every other answer) that the log line carries too.
 */
export function clientErrorAnswerer(logger: Logger) {
  return function answerClientError(error: ClientError, socket: Socket): void {
    if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const [status, title, detail] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request header fields too large', 'The request headers must be at most 16 KiB in all']
        : [400, 'Bad request', 'The request is not valid HTTP'];
    const head = readRequestHead(error.rawPacket);
    const requestId = head.requestId ?? randomUUID();
    const body = JSON.stringify({
      type: status === 431 ? '/problems/request-header-fields-too-large' : '/problems/bad-request',
      title,
      status,
      detail,
      instance: head.path ?? '',
      error: title,
      timestamp: new Date().toISOString(),
      request_id: requestId,
    });
    socket.end(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
    logger.info({ request_id: requestId, status, parse_error: error.code ?? null }, 'request not valid HTTP');
  };
}

const REQUEST_LINE = /^[A-Z]{1,20} (\/[\x21-\x7E]*) HTTP\/1\.[01]\r\n/;
const REQUEST_ID_NAME = /^x-request-id:/i;

/**
 * The path and X-Request-Id of the packet Node failed on, read only when it starts with a
 * well-formed request line (a packet cut in the middle of the headers tells nothing for sure).
 * Values are taken only if they are what a valid request may carry, so nothing else is echoed.
 */
function readRequestHead(packet: Buffer | undefined): { path?: string; requestId?: string } {
  if (!packet) return {};
  const text = packet.subarray(0, 16 * 1024 + 256).toString('latin1');
  const requestLine = REQUEST_LINE.exec(text);
  if (!requestLine) return {};
  const path = requestLine[1]!.split('?')[0]!;
  const end = text.indexOf('\r\n\r\n');
  const lines = text.slice(requestLine[0].length, end === -1 ? undefined : end).split('\r\n');
  if (end === -1) lines.pop(); // the headers go on past what we read: their last line may be cut
  const ids = lines.filter((line) => REQUEST_ID_NAME.test(line)).map((line) => headerValue(line));
  // One valid id is echoed; none, or several (which one would be the client's?), get a new one.
  const requestId = ids.length === 1 && acceptableRequestId.test(ids[0]!) ? ids[0] : undefined;
  return { path, requestId };
}

/** A header line's value without the spaces and tabs around it (long values are never valid ids). */
function headerValue(line: string): string {
  const value = line.slice(line.indexOf(':') + 1);
  return value.length > 256 ? value : value.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
}
