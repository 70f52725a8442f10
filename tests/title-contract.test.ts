/**
 * The contract and the server agree on titles, in both directions: around every boundary
 * (surrounding whitespace, 0/1/499/500/501 characters, control characters inside, unpaired
 * surrogates), the server accepts a title exactly when a third-party validator reading
 * openapi.yaml does. Titles have no rule stated only in prose, so there is no exception.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';
import { thirdPartyErrors } from './support/third-party.ts';

const service = useTestService();
let sequence = 0;
const uniqueUser = () => `title_${process.pid}_${sequence++}`;

/** The whitespace String.prototype.trim removes (ECMAScript's \s), a few of each kind. */
const whitespace = fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2028', '\u3000', '\ufeff');
const padding = fc.array(whitespace, { maxLength: 3 }).map((chars) => chars.join(''));
const unit = fc.constantFrom('a', '😀', 'é', ' ', '\u00a0');
/** What may sit inside a title and what may not: controls (newline, tab, C1), DEL, a lone surrogate. */
const inserted = fc.constantFrom('', '', '', ' ', '\u0001', '\n', '\t', '\u007f', '\u0085', '\ud800', '\udc00', 'b');
const core = fc
  .record({ length: fc.constantFrom(0, 1, 2, 499, 500, 501), unit, inserted, at: fc.nat({ max: 501 }), edge: fc.constantFrom('x', '😀') })
  .map(({ length, unit, inserted, at, edge }) => {
    // Non-space characters at the ends, so the length is what trimming leaves.
    const chars: string[] = Array.from({ length }, (_, i) => (i === 0 || i === length - 1 ? edge : unit));
    chars.splice(Math.min(at, chars.length), 0, ...(inserted ? [inserted] : []));
    return chars.join('');
  });
const title = fc.tuple(padding, core, padding).map(([before, middle, after]) => `${before}${middle}${after}`);

const requestSchema = {
  createSession: '#/paths/~1sessions/post/requestBody/content/application~1json/schema',
  updateSession: '#/paths/~1sessions~1{id}/patch/requestBody/content/application~1merge-patch+json/schema',
};

/** The server's verdict on a title, as the status of a create or a patch. */
async function send(operation: keyof typeof requestSchema, value: string) {
  if (operation === 'createSession') return service.api.post('/sessions', { user_id: uniqueUser(), title: value });
  const created = await service.api.post('/sessions', { user_id: uniqueUser() });
  return service.api.patch(`/sessions/${created.body.id}`, { title: value });
}

describe('titles: the server accepts exactly what the contract accepts', () => {
  it.each(Object.keys(requestSchema) as (keyof typeof requestSchema)[])('%s', async (operation) => {
    await fc.assert(
      fc.asyncProperty(title, async (value) => {
        const body = operation === 'createSession' ? { user_id: 'someone', title: value } : { title: value };
        const contractErrors = await thirdPartyErrors(requestSchema[operation], body);
        const response = await send(operation, value);
        const why = `title ${JSON.stringify(value)} → ${response.status} ${response.text.slice(0, 300)}; contract: ${contractErrors.join('; ') || 'valid'}`;
        if (contractErrors.length === 0) {
          expect(response.status, why).toBe(operation === 'createSession' ? 201 : 200);
          expect(response.body.title, why).toBe(value.trim());
        } else {
          expect(response.status, why).toBe(400);
          expect(response.body.errors, why).toEqual([expect.objectContaining({ in: 'body', pointer: '/title' })]);
        }
      }),
      {
        seed: 20261211,
        numRuns: 150,
        examples: [
          [`  ${'a'.repeat(500)}  `], // 500 after trimming: valid, though longer as sent
          [`\t${'😀'.repeat(500)}\n`],
          ['   '], // nothing left after trimming
          ['\u3000\ufeff'],
          [''],
          ['a'.repeat(501)],
          ['a\tb'],
          ['\u0085'], // a C1 control, which trim() keeps
        ],
      },
    );
  });
});
