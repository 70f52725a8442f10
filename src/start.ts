/**
 * The production entry point (`make run`: `node dist/src/start.js`). Under a memory limit (a
 * container's cgroup) it first restarts itself with V8's heap sized below that limit
 * (src/heap.ts; the same process, via execve). Then it turns on Node's on-disk compile cache
 * before anything else is loaded — a module graph is compiled before any of it runs, hence this
 * file — so every start after the first skips compiling the service's code (~60 ms of
 * start-up). Then it is src/main.ts.
 *
 * The build ships source maps: NODE_OPTIONS=--enable-source-maps makes stack traces in logs point
 * into src/ rather than into the bundle, for ~50 ms more start-up (reading the maps).
 */
import { enableCompileCache } from 'node:module';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { heapFlagsFor } from './heap.ts';

const heapFlags = heapFlagsFor({
  limitBytes: process.constrainedMemory?.() ?? 0,
  totalBytes: totalmem(),
  heapSizeLimitBytes: getHeapStatistics().heap_size_limit,
  execArgv: process.execArgv,
  nodeOptions: process.env.NODE_OPTIONS,
});
if (heapFlags && typeof process.execve === 'function') {
  // The environment explicitly: Node 24.9's execve passes none by default, whatever its docs say.
  process.execve(process.execPath, [process.execPath, ...heapFlags, ...process.execArgv, ...process.argv.slice(1)], process.env);
}

enableCompileCache?.();
const { main } = await import('./main.ts');
await main();
