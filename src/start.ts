/**
 * The production entry point (`make run`: `node dist/src/start.js`). It turns on Node's on-disk
 * compile cache before anything else is loaded — a module graph is compiled before any of it
 * runs, hence this file — so every start after the first skips compiling ~400 modules
 * (~60 ms of a ~500 ms start-up). Then it is src/main.ts.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const { main } = await import('./main.ts');
await main();
