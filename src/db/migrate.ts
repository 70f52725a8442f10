import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { projectRoot } from '../paths.ts';
import { connectClient, type DatabaseTarget, databaseTarget } from './connection.ts';

const MIGRATIONS_TABLE = 'schema_migrations';
const migrationsDir = fileURLToPath(new URL('sql', projectRoot));
// node-pg-migrate's key (it ran the migrations before): an instance of an older release starting
// at the same moment waits for this one, and the other way round.
const MIGRATION_LOCK = 7241865325823964;

/**
 * Applies the pending forward-only migrations in `sql/`, all in one transaction. Instances that
 * start at the same moment queue on a transaction-scoped advisory lock: the others wait, then
 * find nothing to do. The lock ends with the transaction (commit, rollback, or a dropped
 * connection), so it can never outlive it — unlike a session lock, which through a pooler in
 * transaction mode stays on whichever server connection ran `pg_advisory_lock`.
 */
export async function migrate(database: string | DatabaseTarget, log: (message: string) => void = () => {}): Promise<string[]> {
  const { client } = await connectClient(typeof database === 'string' ? databaseTarget(database) : database);
  try {
    return await migrateOver(client, log);
  } finally {
    await client.end().catch(() => {});
  }
}

/** `migrate` over a connection the caller opened and ends (start-up's: src/db/wait.ts). */
export async function migrateOver(client: pg.Client, log: (message: string) => void = () => {}): Promise<string[]> {
  const files = migrationFiles();
  const onNotice = (notice: { severity?: string; message?: string }) => {
    if (notice.severity === 'WARNING' && notice.message) log(notice.message);
  };
  client.on('notice', onNotice);
  try {
    // The usual start-up finds nothing to do: one query, no lock, no transaction.
    if (pendingOf(files, await appliedMigrations(client)).length === 0) return [];
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      // A role's statement_timeout (the way to bound statements behind a pooler) is not for DDL.
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id serial PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)`,
      );
      const pending = pendingOf(files, await appliedMigrations(client));
      for (const name of pending) {
        await client.query(readFileSync(`${migrationsDir}/${name}.sql`, 'utf8'));
        await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (name, run_on) VALUES ($1, now())`, [name]);
      }
      await client.query('COMMIT');
      return pending;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } finally {
    client.off('notice', onNotice);
  }
}

/** The migrations of `sql/` the database has not recorded (all of them on an empty database). */
export async function pendingMigrations(database: string | DatabaseTarget): Promise<string[]> {
  const { client } = await connectClient(typeof database === 'string' ? databaseTarget(database) : database);
  try {
    return pendingOf(migrationFiles(), await appliedMigrations(client));
  } finally {
    await client.end().catch(() => {});
  }
}

function migrationFiles(): string[] {
  return readdirSync(migrationsDir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => file.slice(0, -'.sql'.length))
    .sort();
}

async function appliedMigrations(client: pg.Client): Promise<string[]> {
  const { rows } = await client
    .query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY run_on, id`)
    .catch((error: { code?: string }) => {
      if (error.code === '42P01') return { rows: [] }; // no table yet: nothing applied
      throw error;
    });
  return rows.map((row) => row.name);
}

/** Forward-only: what was applied is a prefix of `sql/`; anything else is a broken history. */
function pendingOf(files: string[], applied: string[]): string[] {
  const unknown = applied.find((name) => !files.includes(name));
  if (unknown) throw new Error(`The database has applied the migration ${unknown}, which sql/ does not have`);
  const pending = files.filter((name) => !applied.includes(name));
  const last = applied.at(-1);
  if (last && pending[0] && pending[0] < last) {
    throw new Error(`The migration ${pending[0]} is not applied but precedes the applied ${last}: add a new file instead`);
  }
  return pending;
}

/** `make migrate`: migrate MIGRATION_DATABASE_URL or DATABASE_URL, or the embedded PostgreSQL. */
async function main(): Promise<void> {
  const { loadConfig } = await import('../config.ts');
  const { startEmbeddedPostgres } = await import('./embedded.ts');
  const config = loadConfig();
  const url = config.MIGRATION_DATABASE_URL ?? config.DATABASE_URL;
  const embedded = url ? undefined : await startEmbeddedPostgres({ dir: config.EMBEDDED_PG_DIR, port: config.EMBEDDED_PG_PORT });
  try {
    const applied = await migrate(url ?? embedded!.url, (message) => console.warn(message));
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
  } finally {
    await embedded?.stop();
  }
}

if (import.meta.main) await main();
