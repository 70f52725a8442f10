import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

const migrationsDir = fileURLToPath(new URL('../../sql', import.meta.url));

/**
 * Applies the pending forward-only migrations in `sql/`. An advisory lock serialises
 * instances that start at the same moment: the others wait, then find nothing to do.
 */
export async function migrate(databaseUrl: string, log: (message: string) => void = () => {}): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: 'schema_migrations',
    checkOrder: true,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    log: () => {},
    logger: { debug: () => {}, info: () => {}, warn: log, error: log },
  });
  return applied.map((migration) => migration.name);
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
