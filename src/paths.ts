/**
 * The folder that holds package.json, openapi.yaml, sql/ and docs/: the repository, or dist/
 * once built. Every file the service reads is found from here, so the code can move (the build
 * bundles src/ into dist/src/) without its paths changing. This file must stay directly in src/.
 */
export const projectRoot = new URL('../', import.meta.url);
