/**
 * One real PostgreSQL for the whole run: the embedded one in a fresh temp folder, or the server
 * named by TEST_DATABASE_URL / DATABASE_URL. A migrated template database is made once; each test
 * file clones its own database from it (tests/support/service.ts).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { freePort } from './controlled-postgres.ts';
import { databaseUrlFor } from './database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string;
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject) {
  let serverUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  let cleanUp = async () => {};
  if (!serverUrl) {
    // The postgres user must be able to enter the folder (mkdtemp makes it 0700).
    const root = mkdtempSync(join(tmpdir(), 'chat-sessions-test-'));
    chmodSync(root, 0o755);
    const embedded = await startEmbeddedPostgres({ dir: join(root, 'data'), port: await freePort() });
    serverUrl = embedded.url;
    cleanUp = async () => {
      await embedded.stop();
      rmSync(root, { recursive: true, force: true });
    };
  }

  const templateDatabase = `chat_sessions_template_${process.pid}`;
  await admin(serverUrl, `CREATE DATABASE ${templateDatabase}`);
  await migrate(databaseUrlFor(serverUrl, templateDatabase));
  project.provide('serverUrl', serverUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    await admin(serverUrl, `DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`).catch(() => {});
    await cleanUp();
  };
}

async function admin(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
