/**
 * The production entry point (`make run`: `node dist/src/start.js`). It turns on Node's on-disk
 * compile cache before anything else is loaded — a module graph is compiled before any of it
 * runs, hence this file — so every start after the first skips compiling the service's code
 * (~60 ms of start-up). Then it is src/main.ts.
 *
 * The build ships source maps: NODE_OPTIONS=--enable-source-maps makes stack traces in logs point
 * into src/ rather than into the bundle, for ~50 ms more start-up (reading the maps).
 */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const { main } = await import('./main.ts');
await main();
