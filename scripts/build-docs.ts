/** `make docs`: renders openapi.yaml into docs/index.html (one self-contained file, no CDN). */
import { fileURLToPath } from 'node:url';
import { buildDocsPage, docsPagePath } from '../src/http/docs.ts';

const started = performance.now();
await buildDocsPage();
console.log(`${fileURLToPath(docsPagePath)} written in ${Math.round(performance.now() - started)} ms`);
