/**
 * Managed PostgreSQL requires TLS: sslmode in DATABASE_URL means what libpq says it means, for
 * the start-up wait, the migrations and the pool alike, against a TLS-only server whose
 * certificate comes from a CA of the test's own (its only name: localhost). Failures that waiting
 * cannot fix end start-up at once, with the reason.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnService } from './support/child-service.ts';
import { REJECTED_ROLE, startTlsPostgres, type TlsPostgres } from './support/tls-postgres.ts';

let server: TlsPostgres;

beforeAll(async () => {
  server = await startTlsPostgres();
});
afterAll(async () => {
  await server?.destroy();
});

/** An empty database of the test's own: the service migrates it over TLS before serving. */
async function emptyDatabase(): Promise<string> {
  const name = `tls_${randomBytes(4).toString('hex')}`;
  await server.query(`CREATE DATABASE ${name}`);
  return name;
}

/** Starts the service on DATABASE_URL, creates a session, and says whether its connections were encrypted. */
async function serves(databaseUrl: string, env: Record<string, string> = {}): Promise<{ encrypted: boolean }> {
  const service = spawnService({ DATABASE_URL: databaseUrl, ...env });
  try {
    const url = await service.ready;
    const created = await fetch(`${url}/api/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'tls', title: 'over TLS' }),
    });
    expect(created.status).toBe(201);
    const [row] = await server.query<{ encrypted: boolean }>(
      `SELECT count(*) > 0 AND bool_and(ssl) AS encrypted FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
       WHERE application_name = 'chat-sessions-api'`,
    );
    return { encrypted: row!.encrypted };
  } finally {
    service.process.kill('SIGTERM');
    await service.exited;
  }
}

/** Starts the service and expects it to give up quickly: its exit code, the time it took, its logs. */
async function failsFast(databaseUrl: string): Promise<{ code: number | string; ms: number; logs: string }> {
  const started = Date.now();
  // A permanent failure used to be retried for DB_STARTUP_TIMEOUT_MS.
  const service = spawnService({ DATABASE_URL: databaseUrl, DB_STARTUP_TIMEOUT_MS: '60000' });
  const code = await service.exited;
  return { code, ms: Date.now() - started, logs: service.logs.join('\n') };
}

// Far below the 60 s of waiting, with room for a start-up on a busy machine (~1 s when quiet).
const FAST = 15_000;

describe('sslmode as libpq defines it', () => {
  it('require encrypts without verifying the server when no CA is given', async () => {
    const database = await emptyDatabase();
    expect(await serves(server.url({ database, params: { sslmode: 'require' } }))).toEqual({ encrypted: true });
  });

  it('require with sslrootcert verifies the chain against that CA', async () => {
    const database = await emptyDatabase();
    const url = server.url({ host: '127.0.0.1', database, params: { sslmode: 'require', sslrootcert: server.caFile } });
    expect(await serves(url)).toEqual({ encrypted: true });
  });

  it('verify-ca checks the chain but not the host name', async () => {
    const database = await emptyDatabase();
    const url = server.url({ host: '127.0.0.1', database, params: { sslmode: 'verify-ca', sslrootcert: server.caFile } });
    expect(await serves(url)).toEqual({ encrypted: true });
  });

  it('verify-full checks the chain and the host name', async () => {
    const database = await emptyDatabase();
    const url = server.url({ database, params: { sslmode: 'verify-full', sslrootcert: server.caFile } });
    expect(await serves(url)).toEqual({ encrypted: true });
  });

  it('takes the CA from PGSSLROOTCERT when the URL names none', async () => {
    const database = await emptyDatabase();
    const url = server.url({ database, params: { sslmode: 'verify-full' } });
    expect(await serves(url, { PGSSLROOTCERT: server.caFile })).toEqual({ encrypted: true });
  });

  it('prefer encrypts when the server offers TLS', async () => {
    const database = await emptyDatabase();
    expect(await serves(server.url({ database, params: { sslmode: 'prefer' } }))).toEqual({ encrypted: true });
  });
});

describe('connection failures that waiting cannot fix end start-up at once, naming the reason', () => {
  it('a server certificate from another CA', async () => {
    const failure = await failsFast(server.url({ params: { sslmode: 'verify-full', sslrootcert: server.wrongCaFile } }));
    expect(failure.code).toBe(1);
    expect(failure.ms).toBeLessThan(FAST);
    expect(failure.logs).toMatch(/certificate did not verify/);
  });

  it('a certificate that does not name the host (verify-full)', async () => {
    const failure = await failsFast(server.url({ host: '127.0.0.1', params: { sslmode: 'verify-full', sslrootcert: server.caFile } }));
    expect(failure.code).toBe(1);
    expect(failure.ms).toBeLessThan(FAST);
    expect(failure.logs).toMatch(/certificate did not verify.*IP: 127\.0\.0\.1 is not in the cert's list/);
  });

  it('a wrong password', async () => {
    const failure = await failsFast(server.url({ password: 'not-the-password', params: { sslmode: 'require' } }));
    expect(failure.code).toBe(1);
    expect(failure.ms).toBeLessThan(FAST);
    expect(failure.logs).toMatch(/refused the password.*password authentication failed/);
  });

  it('a pg_hba.conf rejection', async () => {
    const failure = await failsFast(server.url({ user: REJECTED_ROLE, params: { sslmode: 'require' } }));
    expect(failure.code).toBe(1);
    expect(failure.ms).toBeLessThan(FAST);
    expect(failure.logs).toMatch(/refused the login \(pg_hba\.conf\).*pg_hba\.conf rejects connection/);
  });

  it('no TLS asked of a server that only takes TLS', async () => {
    const failure = await failsFast(server.url({ params: { sslmode: 'disable' } }));
    expect(failure.code).toBe(1);
    expect(failure.ms).toBeLessThan(FAST);
    expect(failure.logs).toMatch(/refused the login \(pg_hba\.conf\).*no encryption/);
  });
});
