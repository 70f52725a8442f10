import { describe, expect, it } from 'vitest';
import { heapFlagsFor } from '../src/heap.ts';

const MB = 2 ** 20;
const unlimited = 2 ** 64; // what process.constrainedMemory() says without a cgroup limit
const inside = (limitMb: number, overrides: Partial<Parameters<typeof heapFlagsFor>[0]> = {}) =>
  heapFlagsFor({ limitBytes: limitMb * MB, totalBytes: 24_000 * MB, heapSizeLimitBytes: (limitMb + 3) * MB, execArgv: [], nodeOptions: undefined, ...overrides });

describe('V8 heap sized below a memory limit (src/heap.ts)', () => {
  it('under a 256 MB limit, old space gets half of it and each semi-space 4 MB', () => {
    expect(inside(256)).toEqual(['--max-old-space-size=128', '--max-semi-space-size=4']);
  });

  it('the young generation grows with the limit, up to 16 MB per semi-space', () => {
    expect(inside(512)).toEqual(['--max-old-space-size=256', '--max-semi-space-size=8']);
    expect(inside(2048)).toEqual(['--max-old-space-size=1024', '--max-semi-space-size=16']);
    expect(inside(64)).toEqual(['--max-old-space-size=32', '--max-semi-space-size=1']);
  });

  it("without a limit (none, or one at or above the machine's memory) nothing changes", () => {
    expect(inside(0)).toBeUndefined();
    expect(heapFlagsFor({ limitBytes: unlimited, totalBytes: 24_000 * MB, heapSizeLimitBytes: 4288 * MB, execArgv: [], nodeOptions: undefined })).toBeUndefined();
    expect(inside(24_000)).toBeUndefined();
  });

  it('a heap that already fits in half the limit is left alone', () => {
    expect(inside(16_384, { heapSizeLimitBytes: 4288 * MB })).toBeUndefined();
  });

  it.each([
    ['the command line', { execArgv: ['--max-old-space-size=200'] }],
    ['the command line (semi-space)', { execArgv: ['--max-semi-space-size=2'] }],
    ['the command line (underscores)', { execArgv: ['--max_heap_size=300'] }],
    ['NODE_OPTIONS', { nodeOptions: '--enable-source-maps --max-old-space-size=100' }],
  ])('heap sizes the operator gave on %s stand: none added', (_where, overrides) => {
    expect(inside(256, overrides)).toBeUndefined();
  });
});
