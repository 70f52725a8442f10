/**
 * The benchmark's PostgreSQL: the embedded one in a fresh temp folder, or the server named by
 * BENCH_DATABASE_URL (where the user may create databases). Each benchmark database is created
 * here, migrated with the service's own migrations and seeded with SQL.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { databaseUrlFor, freePort, withClient } from '../../tests/support/pg.ts';

export { databaseUrlFor, freePort, withClient };
import { parentOf } from './procfs.ts';

export type Cluster = {
  serverUrl: string;
  /** The postmaster, when it runs on this machine and /proc shows it (else CPU is not measured). */
  postmasterPid: number | undefined;
  version: string;
  embedded: boolean;
  createDatabase: (name: string) => Promise<string>;
  /** A copy of database `template` (no one may be connected to it), not migrated: its URL. */
  cloneDatabase: (name: string, template: string) => Promise<string>;
  /**
   * The statements PostgreSQL executed while `work` ran (log_statement = all, whitespace
   * collapsed), or undefined when its log cannot be read (only the embedded one's can).
   */
  captureStatements: (work: () => Promise<void>) => Promise<string[] | undefined>;
  stop: () => Promise<void>;
};

export async function startCluster(log: (line: string) => void): Promise<Cluster> {
  const external = process.env.BENCH_DATABASE_URL;
  const created: string[] = [];
  let serverUrl: string;
  let stopServer = async () => {};
  let postmasterPid: number | undefined;
  let capturing: string[] | undefined;

  if (external) {
    serverUrl = external;
    log(`PostgreSQL: ${new URL(external).host} (BENCH_DATABASE_URL)`);
  } else {
    // The postgres user must be able to enter the folder (mkdtemp makes it 0700).
    const root = mkdtempSync(join(tmpdir(), 'chat-sessions-bench-'));
    chmodSync(root, 0o755);
    const started = performance.now();
    try {
      const embedded = await startEmbeddedPostgres({
        dir: join(root, 'data'),
        port: await freePort(),
        log: (line) => capturing?.push(line),
      });
      serverUrl = embedded.url;
      stopServer = async () => {
        await embedded.stop();
        rmSync(root, { recursive: true, force: true });
      };
    } catch (error) {
      rmSync(root, { recursive: true, force: true });
      throw error;
    }
    postmasterPid = Number(readFileSync(join(root, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    log(`PostgreSQL: embedded, ${root}/data, up in ${Math.round(performance.now() - started)} ms`);
  }

  try {
    const { version, backendPid } = await withClient(serverUrl, async (client) => {
      const { rows } = await client.query<{ version: string; pid: number }>(
        `SELECT current_setting('server_version') AS version, pg_backend_pid() AS pid`,
      );
      return { version: rows[0]!.version, backendPid: rows[0]!.pid };
    });
    // An external server on this machine: its postmaster is the parent of our backend.
    postmasterPid ??= parentOf(backendPid);

    return {
      serverUrl,
      postmasterPid,
      version,
      embedded: !external,
      async createDatabase(name) {
        await withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
        await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
        created.push(name);
        const url = databaseUrlFor(serverUrl, name);
        await migrate(url, log);
        return url;
      },
      async cloneDatabase(name, template) {
        await withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
        // FILE_COPY: one checkpoint and a copy of the files, instead of WAL-logging every page.
        await withClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY = FILE_COPY`));
        created.push(name);
        return databaseUrlFor(serverUrl, name);
      },
      async captureStatements(work) {
        if (external) return undefined;
        const setLogging = async (value: string) => {
          await withClient(serverUrl, async (client) => {
            await client.query(`ALTER SYSTEM SET log_statement = '${value}'`);
            await client.query('SELECT pg_reload_conf()');
          });
          await new Promise((resolve) => setTimeout(resolve, 150)); // backends read it at their next command
        };
        await setLogging('all');
        const lines: string[] = [];
        capturing = lines;
        try {
          await work();
          await new Promise((resolve) => setTimeout(resolve, 100));
        } finally {
          capturing = undefined;
          await setLogging('none');
        }
        return statementsOf(lines.join('\n'));
      },
      async stop() {
        for (const name of created.splice(0)) {
          await withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => {});
        }
        await stopServer();
      },
    };
  } catch (error) {
    await stopServer();
    throw error;
  }
}

/** Statements of a PostgreSQL log (log_line_prefix '%m [%p] '), whitespace collapsed. */
function statementsOf(log: string): string[] {
  const entries = log.split(/^(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] )/m);
  const statements: string[] = [];
  for (const entry of entries) {
    const match = /\] (?:LOG):\s+(?:statement|execute [^:]*): ([\s\S]*)$/.exec(entry);
    if (match) statements.push(match[1]!.replace(/\s+/g, ' ').trim());
  }
  return statements;
}
