/**
 * Managed PostgreSQL behind a transaction-mode pooler (Debian's PgBouncer 1.18, `pool_mode =
 * transaction`, no `ignore_startup_parameters`), with the roles teams give a service: a database
 * owner that is no superuser (it migrates, installing pg_trgm) and a read-write role with no DDL
 * rights (it serves a migrated database).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnService } from './support/child-service.ts';
import { type ControlledPostgres, createControlledPostgres } from './support/controlled-postgres.ts';
import { databaseUrlFor, withClient } from './support/database.ts';
import { type PgBouncer, pgbouncerMissing, startPgBouncer } from './support/pgbouncer.ts';

const OWNER = { user: 'app_owner', password: 'owner-secret' };
const READ_WRITE = { user: 'app_rw', password: 'rw-secret' };

let postgres: ControlledPostgres;
let bouncer: PgBouncer;

if (pgbouncerMissing) console.warn(`Skipping the pooler tests: ${pgbouncerMissing}`);

describe.skipIf(pgbouncerMissing)('behind PgBouncer in transaction mode', () => {
  beforeAll(async () => {
    postgres = await createControlledPostgres();
    await withClient(postgres.url, async (client) => {
      await client.query(`CREATE ROLE ${OWNER.user} LOGIN NOSUPERUSER PASSWORD '${OWNER.password}'`);
      await client.query(`CREATE ROLE ${READ_WRITE.user} LOGIN NOSUPERUSER PASSWORD '${READ_WRITE.password}'`);
    });
    bouncer = await startPgBouncer({
      backendPort: postgres.port,
      users: { [OWNER.user]: OWNER.password, [READ_WRITE.user]: READ_WRITE.password },
    });
  });
  afterAll(async () => {
    await bouncer?.stop();
    await postgres?.destroy();
  });

  /** An empty database owned by the owner role; the read-write role gets rights on what it creates. */
  async function emptyDatabase(): Promise<string> {
    const name = `pooled_${randomBytes(4).toString('hex')}`;
    await withClient(postgres.url, (client) => client.query(`CREATE DATABASE ${name} OWNER ${OWNER.user}`));
    await withClient(databaseUrlFor(postgres.url, name), async (client) => {
      await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${OWNER.user} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${READ_WRITE.user}`);
      await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${OWNER.user} GRANT USAGE ON SEQUENCES TO ${READ_WRITE.user}`);
    });
    return name;
  }

  const through = (via: 'pgbouncer' | 'direct', database: string, role: { user: string; password: string }, params = '') =>
    `postgres://${role.user}:${role.password}@127.0.0.1:${via === 'pgbouncer' ? bouncer.port : postgres.port}/${database}${params}`;

  async function createSession(url: string): Promise<number> {
    const response = await fetch(`${url}/api/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'pooled', title: 'through the pooler' }),
    });
    await response.body?.cancel();
    return response.status;
  }

  // PgBouncer 1.18 in transaction mode cannot carry named prepared statements: run as docs/operations.md says.
  const behindThePooler = (env: Record<string, string>) => spawnService({ DB_PREPARED_STATEMENTS: 'off', ...env });

  const onBackend = <T>(database: string, query: string) =>
    withClient(databaseUrlFor(postgres.url, database), async (client) => (await client.query<T & object>(query)).rows);

  it('two instances starting at once on an empty database both serve, migrate once and leave no lock behind', async () => {
    const database = await emptyDatabase();
    const instances = [1, 2].map(() => behindThePooler({ DATABASE_URL: through('pgbouncer', database, OWNER) }));
    try {
      const urls = await Promise.all(instances.map((instance) => instance.ready));
      expect(await Promise.all(urls.map(createSession))).toEqual([201, 201]);
      const migrations = await onBackend<{ times: number }>(database, 'SELECT count(*)::int AS times FROM schema_migrations GROUP BY name');
      expect(migrations.length).toBeGreaterThan(0);
      expect(migrations.every((row) => row.times === 1)).toBe(true);
      expect(await onBackend(database, "SELECT * FROM pg_locks WHERE locktype = 'advisory'")).toEqual([]);

      // The next deploy finds nothing to wait for (a lock left behind held it until
      // DB_STARTUP_TIMEOUT_MS, or forever); ~1 s when the machine is quiet.
      const started = Date.now();
      const third = behindThePooler({ DATABASE_URL: through('pgbouncer', database, OWNER) });
      instances.push(third);
      expect(await createSession(await third.ready)).toBe(201);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      for (const instance of instances) instance.process.kill('SIGTERM');
      await Promise.all(instances.map((instance) => instance.exited));
    }
  });

  it('warns that statements are unbounded when the role sets no statement_timeout', async () => {
    const database = await emptyDatabase();
    const instance = behindThePooler({ DATABASE_URL: through('pgbouncer', database, OWNER) });
    try {
      await instance.ready;
      expect(instance.logs.join('\n')).toMatch(/statements are unbounded.*ALTER ROLE <role> SET statement_timeout/);
    } finally {
      instance.process.kill('SIGTERM');
      await instance.exited;
    }
  });

  it("bounds every statement by the role's statement_timeout", async () => {
    const database = await emptyDatabase();
    // Before any server connection to this database exists: PgBouncer's connections then carry it.
    await withClient(postgres.url, (client) => client.query(`ALTER ROLE ${OWNER.user} IN DATABASE ${database} SET statement_timeout = '1s'`));
    const instance = behindThePooler({ DATABASE_URL: through('pgbouncer', database, OWNER) });
    try {
      const url = await instance.ready;
      await withClient(databaseUrlFor(postgres.url, database), async (client) => {
        await client.query(`CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN PERFORM pg_sleep(20); RETURN NEW; END $$`);
        await client.query('CREATE TRIGGER slow_insert BEFORE INSERT ON chat_sessions FOR EACH ROW EXECUTE FUNCTION slow_insert()');
      });
      const started = Date.now();
      expect(await createSession(url)).toBe(503);
      expect(Date.now() - started).toBeLessThan(10_000); // cancelled after 1 s, not 20
    } finally {
      instance.process.kill('SIGTERM');
      await instance.exited;
    }
  });

  it('migrates over MIGRATION_DATABASE_URL and serves through the pooler as a role with no DDL rights', async () => {
    const database = await emptyDatabase();
    const instance = behindThePooler({
      DATABASE_URL: through('pgbouncer', database, READ_WRITE),
      MIGRATION_DATABASE_URL: through('direct', database, OWNER),
    });
    try {
      expect(await createSession(await instance.ready)).toBe(201);
      const [owner] = await onBackend<{ owner: string }>(database, "SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'chat_sessions'");
      expect(owner).toEqual({ owner: OWNER.user });
      expect(await onBackend(database, "SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")).toEqual([{ extname: 'pg_trgm' }]);
    } finally {
      instance.process.kill('SIGTERM');
      await instance.exited;
    }
  });

  it('prefer falls back to a plain connection where the server offers no TLS', async () => {
    const database = await emptyDatabase();
    const instance = behindThePooler({ DATABASE_URL: through('pgbouncer', database, OWNER, '?sslmode=prefer') });
    try {
      expect(await createSession(await instance.ready)).toBe(201);
    } finally {
      instance.process.kill('SIGTERM');
      await instance.exited;
    }
  });

  /** Sessions created, then read, listed and renamed by 16 concurrent clients: the statuses answered, by count. */
  async function concurrentLoad(url: string): Promise<Record<number, number>> {
    const statuses: Record<number, number> = {};
    const count = (status: number) => (statuses[status] = (statuses[status] ?? 0) + 1);
    const call = async (path: string, init: RequestInit = {}) => {
      const response = await fetch(`${url}/api/v1${path}`, { ...init, headers: { 'content-type': 'application/json' } });
      count(response.status);
      return response.ok ? ((await response.json()) as { id: string }) : (await response.body?.cancel(), undefined);
    };
    await Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        for (let i = 0; i < 10; i++) {
          const created = await call('/sessions', { method: 'POST', body: JSON.stringify({ user_id: `load_${worker}`, title: `${i}` }) });
          if (!created) continue;
          await call(`/sessions/${created.id}`);
          await call(`/sessions?user_id=load_${worker}&limit=5`);
          await call(`/sessions/${created.id}`, { method: 'PATCH', body: JSON.stringify({ title: `${i} renamed` }) });
        }
      }),
    );
    return statuses;
  }

  describe('prepared statements (DB_PREPARED_STATEMENTS)', () => {
    it('off: serves every request under concurrent load', async () => {
      const database = await emptyDatabase();
      const instance = spawnService({ DATABASE_URL: through('pgbouncer', database, OWNER), DB_PREPARED_STATEMENTS: 'off' });
      try {
        expect(await concurrentLoad(await instance.ready)).toEqual({ 200: 480, 201: 160 });
      } finally {
        instance.process.kill('SIGTERM');
        await instance.exited;
      }
    });

    it('on: PgBouncer 1.18 cannot carry them: requests fail, as 503s (never a 500)', async () => {
      const database = await emptyDatabase();
      const instance = spawnService({ DATABASE_URL: through('pgbouncer', database, OWNER), DB_PREPARED_STATEMENTS: 'on' });
      try {
        const statuses = await concurrentLoad(await instance.ready);
        expect(Object.keys(statuses).map(Number).every((status) => [200, 201, 503].includes(status))).toBe(true);
        expect(statuses[503]).toBeGreaterThan(0);
        // What on-call reads in the 503s' log lines: the pooler sent a statement where it is not prepared, or is.
        expect(instance.logs.join('\n')).toMatch(/prepared statement \\"[a-z_]+_[0-9a-f]{16}\\" (does not exist|already exists)/);
      } finally {
        instance.process.kill('SIGTERM');
        await instance.exited;
      }
    });

    it('on, behind a pooler that discards them after every transaction (DISCARD ALL): every request is served', async () => {
      const discarding = await startPgBouncer({
        backendPort: postgres.port,
        users: { [OWNER.user]: OWNER.password },
        settings: { server_reset_query: 'DISCARD ALL', server_reset_query_always: '1' },
      });
      const database = await emptyDatabase();
      const instance = spawnService({ DB_PREPARED_STATEMENTS: 'on', DATABASE_URL: `postgres://${OWNER.user}:${OWNER.password}@127.0.0.1:${discarding.port}/${database}` });
      try {
        const url = await instance.ready;
        const statuses: number[] = [];
        for (let i = 0; i < 10; i++) {
          const created = await fetch(`${url}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: 'discarded', title: `${i}` }) });
          statuses.push(created.status);
          const { id } = (await created.json()) as { id: string };
          for (const path of [`/sessions/${id}`, '/sessions?user_id=discarded']) {
            const read = await fetch(`${url}/api/v1${path}`);
            await read.body?.cancel();
            statuses.push(read.status);
          }
        }
        expect(statuses).toEqual(Array.from({ length: 10 }, () => [201, 200, 200]).flat());
        // Each statement a connection had prepared was gone at its next use: retried on a fresh connection.
        const metrics = await (await fetch(`${url}/metrics`)).text();
        expect(metrics).toMatch(/^db_retries_total\{kind="transient"\} [1-9]/m);
      } finally {
        instance.process.kill('SIGTERM');
        await instance.exited;
        await discarding.stop();
      }
    });
  });
});
