/**
 * One reading of DATABASE_URL for every connection of ours (src/db/connection.ts). What each
 * sslmode does against a real server is in managed-postgres-tls.test.ts; here, what the reading
 * hands pg and Slonik.
 */
import { checkServerIdentity } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { databaseTarget } from '../src/db/connection.ts';

const noEnv = { env: {} };

describe('reading DATABASE_URL', () => {
  it('hands pg and Slonik a URL without TLS parameters, which neither may read its own way', () => {
    const target = databaseTarget('postgres://u:p@db.example:5432/app?sslmode=require&application_name=x&ssl=true', noEnv);
    expect(target.url).toBe('postgres://u:p@db.example:5432/app?application_name=x');
  });

  it('without sslmode connects in plain text, as node-postgres always did', () => {
    expect(databaseTarget('postgres://db.example/app', noEnv)).toMatchObject({ sslMode: 'disable', ssl: false });
  });

  it('takes sslmode from PGSSLMODE when the URL has none, and the URL wins', () => {
    expect(databaseTarget('postgres://db.example/app', { env: { PGSSLMODE: 'require' } }).sslMode).toBe('require');
    expect(databaseTarget('postgres://db.example/app?sslmode=disable', { env: { PGSSLMODE: 'require' } }).sslMode).toBe('disable');
  });

  it('verify-full checks the host name; verify-ca does not', () => {
    const full = databaseTarget('postgres://db.example/app?sslmode=verify-full', noEnv).ssl;
    const ca = databaseTarget('postgres://db.example/app?sslmode=verify-ca', noEnv).ssl;
    expect(full).toMatchObject({ rejectUnauthorized: true, checkServerIdentity });
    expect(ca).toMatchObject({ rejectUnauthorized: true });
    expect(ca && ca.checkServerIdentity).not.toBe(checkServerIdentity);
  });

  it('names the variable and the file when sslrootcert cannot be read', () => {
    expect(() =>
      databaseTarget('postgres://db.example/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem', {
        env: {},
        name: 'MIGRATION_DATABASE_URL',
      }),
    ).toThrow(/^MIGRATION_DATABASE_URL: sslrootcert \/nonexistent\/ca\.pem cannot be read/);
  });
});
