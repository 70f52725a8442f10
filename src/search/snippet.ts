/**
 * A search hit's snippet: PostgreSQL's ts_headline picks the words around the best match, and
 * this cuts what it picked to the contract's length. ts_headline counts words, not characters
 * (35 words may be thousands of characters), so the cut is ours.
 */

/** Most characters (code points) of a snippet, not counting the « » around matches nor a trailing …. */
export const SNIPPET_MAX_CHARS = 200;
/** A first match further into the headline than this is brought forward (the text before it cut, marked …). */
const LEAD_CHARS = 60;

/**
 * What ts_headline wraps each match in: two Unicode noncharacters ("for internal use"), which the
 * text given to it never holds (they are replaced beforehand: see HEADLINE_TEXT in service.ts).
 */
export const START = '\uFDD0';
export const STOP = '\uFDD1';

type Segment = { text: string[]; hit: boolean };

/** ts_headline's output (matches wrapped in START/STOP) as a snippet: « » around matches, at most 200 characters. */
export function snippetOf(headline: string): string {
  const segments = segmentsOf(headline);
  const firstHit = segments.findIndex((segment) => segment.hit);
  let lead = false;
  if (firstHit > 0) {
    // Everything before the first match is plain text.
    const before = segments.slice(0, firstHit).flatMap((segment) => segment.text);
    if (before.length > LEAD_CHARS) {
      // Keep at most LEAD_CHARS − 1 characters before the match (the … takes one), from a word's start.
      let start = before.length - (LEAD_CHARS - 1);
      const space = before.slice(start - 1).findIndex((char) => /\s/u.test(char));
      if (space >= 0 && start - 1 + space < before.length - 1) start = start + space;
      segments.splice(0, firstHit, { text: before.slice(start), hit: false });
      lead = true;
    }
  }
  let budget = SNIPPET_MAX_CHARS - (lead ? 1 : 0);
  let out = lead ? '…' : '';
  let truncated = false;
  for (const segment of segments) {
    if (budget === 0) {
      truncated = true;
      break;
    }
    const kept = segment.text.slice(0, budget);
    truncated = kept.length < segment.text.length;
    budget -= kept.length;
    out += segment.hit ? `«${kept.join('')}»` : kept.join('');
  }
  return truncated ? `${out}…` : out;
}

/** The headline split into plain and matched runs, each as code points. */
function segmentsOf(headline: string): Segment[] {
  const segments: Segment[] = [];
  let current: Segment = { text: [], hit: false };
  for (const char of headline) {
    if (char === START || char === STOP) {
      if (current.text.length) segments.push(current);
      current = { text: [], hit: char === START };
      continue;
    }
    current.text.push(char);
  }
  if (current.text.length) segments.push(current);
  return segments;
}
