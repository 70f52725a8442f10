import type { Socket } from 'node:net';

/**
 * Requests Node rejects before Koa sees them (headers over 16 KiB, malformed HTTP) still get a
 * problem document, written by hand on the socket.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const [status, title, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request header fields too large', 'The request headers must be at most 16 KiB in all']
      : [400, 'Bad request', 'The request is not valid HTTP'];
  const body = JSON.stringify({
    type: status === 431 ? '/problems/request-header-fields-too-large' : '/problems/bad-request',
    title,
    status,
    detail,
    instance: '',
    error: title,
    timestamp: new Date().toISOString(),
    request_id: '',
  });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
  );
}
