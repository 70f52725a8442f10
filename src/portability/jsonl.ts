/**
 * Reading a JSON Lines document (import): one JSON object per line, UTF-8. What people's files
 * hold besides is tolerated — a byte order mark, CRLF line ends, blank lines, no final newline —
 * and everything else is a 400 naming the line (counted from 1, blank lines included, as an
 * editor counts them).
 */
import { AppError } from '../errors.ts';
import { isJsonObject } from '../rules.ts';

export type Line = { line: number; value: Record<string, unknown> };

// Fatal: a line that is not UTF-8 is refused, never stored with U+FFFD in it. The BOM is dropped
// by hand, and only at the very start: one inside the document is not whitespace to JSON.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const LF = 0x0a;
const CR = 0x0d;

/** The document's non-blank lines, each parsed, in order; decoded one line at a time. */
export function* jsonLines(document: Buffer): Generator<Line> {
  let start = document.subarray(0, 3).equals(BOM) ? 3 : 0;
  for (let line = 1; start < document.length; line++) {
    const newline = document.indexOf(LF, start);
    const end = newline === -1 ? document.length : newline;
    const bytes = document.subarray(start, end > start && document[end - 1] === CR ? end - 1 : end);
    start = end + 1;
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw lineProblem('malformed_json', line, `line ${line} is not valid UTF-8`);
    }
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      const last = newline === -1 ? ' (the last line looks cut short)' : '';
      throw lineProblem('malformed_json', line, `line ${line} is not valid JSON${last}: a JSON Lines document has one JSON object per line`);
    }
    if (!isJsonObject(value)) throw lineProblem('validation_failed', line, `line ${line} must be a JSON object`);
    yield { line, value };
  }
}

function lineProblem(kind: 'malformed_json' | 'validation_failed', line: number, message: string): AppError {
  return new AppError(kind, message, { errors: [{ in: 'body', line, pointer: '', message }] });
}
