import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { projectRoot } from '../paths.ts';

const MIGRATIONS_TABLE = 'schema_migrations';
const migrationsDir = fileURLToPath(new URL('sql', projectRoot));

/**
 * Applies the pending forward-only migrations in `sql/`. An advisory lock serialises
 * instances that start at the same moment: the others wait, then find nothing to do.
 */
export async function migrate(databaseUrl: string, log: (message: string) => void = () => {}): Promise<string[]> {
  // The usual start-up finds nothing to do: one query instead of loading node-pg-migrate (~70 ms).
  if ((await pendingMigrations(databaseUrl)).length === 0) return [];
  const { runner } = await import('node-pg-migrate');
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    checkOrder: true,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    log: () => {},
    logger: { debug: () => {}, info: () => {}, warn: log, error: log },
  });
  return applied.map((migration) => migration.name);
}

/** The migrations of `sql/` the database has not recorded (all of them on an empty database). */
export async function pendingMigrations(databaseUrl: string): Promise<string[]> {
  const files = readdirSync(migrationsDir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => file.slice(0, -'.sql'.length));
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => {}); // a connection dropped after we are done with it
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`).catch((error: { code?: string }) => {
      if (error.code === '42P01') return { rows: [] }; // no table yet: nothing applied
      throw error;
    });
    const applied = new Set(rows.map((row) => row.name));
    return files.filter((name) => !applied.has(name));
  } finally {
    await client.end().catch(() => {});
  }
}

/** `make migrate`: migrate DATABASE_URL, or the embedded PostgreSQL when it is unset. */
async function main(): Promise<void> {
  const { loadConfig } = await import('../config.ts');
  const { startEmbeddedPostgres } = await import('./embedded.ts');
  const config = loadConfig();
  const embedded = config.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dir: config.EMBEDDED_PG_DIR, port: config.EMBEDDED_PG_PORT });
  try {
    const applied = await migrate(config.DATABASE_URL ?? embedded!.url, (message) => console.warn(message));
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
  } finally {
    await embedded?.stop();
  }
}

if (import.meta.main) await main();
