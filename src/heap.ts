/**
 * V8's heap sized for a memory limit (a container's cgroup). Node sizes the heap to the whole
 * limit (`process.constrainedMemory()`: heap_size_limit 259 MB inside a 256 MB cgroup), which
 * leaves nothing for the node binary's pages, native buffers and stacks: under the bench's full
 * load the kernel OOM-killed the service at 256 MB. Given half of the limit for old space and a
 * young generation of 1/64 of it, it served every scenario (docs/operations.md#running-it).
 *
 * V8 reads these sizes once, when the isolate is made, so they must be on node's command line:
 * src/start.ts replaces the process with itself plus these flags (`process.execve`: same pid,
 * same stdio, no second process) before anything else loads. Only under a limit, and never when
 * the operator chose heap sizes: then their flags stand.
 */

/** Flags that size V8's heap: any of them given by the operator, and we add none. */
const HEAP_SIZE_FLAG = /--max-old-space-size|--max-semi-space-size|--max-heap-size|--max_old_space_size|--max_semi_space_size|--max_heap_size/;

const MB = 2 ** 20;

export type HeapSituation = {
  /** process.constrainedMemory(): the cgroup's limit; 0 or ~2^64 when there is none. */
  limitBytes: number;
  /** os.totalmem(): a limit at or above it limits nothing. */
  totalBytes: number;
  /** v8.getHeapStatistics().heap_size_limit as Node sized it. */
  heapSizeLimitBytes: number;
  /** process.execArgv and NODE_OPTIONS, where the operator's own flags would be. */
  execArgv: readonly string[];
  nodeOptions: string | undefined;
};

/** The node flags to restart with, or undefined when the heap is fine as it is. */
export function heapFlagsFor({ limitBytes, totalBytes, heapSizeLimitBytes, execArgv, nodeOptions }: HeapSituation): string[] | undefined {
  if (!(limitBytes > 0) || limitBytes >= totalBytes) return undefined;
  if (execArgv.some((flag) => HEAP_SIZE_FLAG.test(flag)) || HEAP_SIZE_FLAG.test(nodeOptions ?? '')) return undefined;
  const limitMb = Math.floor(limitBytes / MB);
  const oldSpaceMb = Math.floor(limitMb / 2);
  // A heap that fits in half the limit already (a large container) needs nothing.
  if (heapSizeLimitBytes <= oldSpaceMb * MB) return undefined;
  const semiSpaceMb = Math.min(16, Math.max(1, Math.floor(limitMb / 64)));
  return [`--max-old-space-size=${oldSpaceMb}`, `--max-semi-space-size=${semiSpaceMb}`];
}
