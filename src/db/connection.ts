import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import pg from 'pg';

/**
 * libpq's sslmode values, plus node-postgres' `no-verify` (encrypt, check nothing), which
 * deployments already use. Unset means `disable`, as node-postgres has always read it (libpq
 * would say `prefer`).
 */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** How to reach the database: the one reading of DATABASE_URL every connection of ours uses. */
export type DatabaseTarget = {
  /** The URL without its TLS parameters: host, port, user, password, database and options. */
  url: string;
  sslMode: SslMode;
  /** What the TLS handshake checks, or false for a plain connection. */
  ssl: false | ConnectionOptions;
  /** `prefer` and `allow`: a server that offers no TLS gets a plain connection. */
  plainFallback: boolean;
};

// Read here, never by pg or Slonik: pg reads `require` as verify-full, and Slonik's DSN parser
// rejects verify-ca/verify-full and drops sslrootcert.
const TLS_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'uselibpqcompat'];

export class DatabaseUrlError extends Error {}

/**
 * DATABASE_URL (with PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY as libpq reads them) → the
 * TLS options node's handshake needs for libpq's meaning of each sslmode:
 * - `require`: encrypt; verify the chain (not the host name) only when a root CA file is given
 *   (sslrootcert, PGSSLROOTCERT or ~/.postgresql/root.crt);
 * - `verify-ca`: verify the chain against that CA, not the host name;
 * - `verify-full`: verify the chain and that the certificate names the host.
 * Without a CA file, verify-ca and verify-full check against Node's public CAs (libpq's
 * `sslrootcert=system`), which is what hosted servers with public certificates need.
 */
export function databaseTarget(
  databaseUrl: string,
  { env = process.env, name = 'DATABASE_URL' }: { env?: NodeJS.ProcessEnv; name?: string } = {},
): DatabaseTarget {
  const url = new URL(databaseUrl);
  const parameter = (name: string, variable: string) => url.searchParams.get(name) || env[variable] || undefined;
  const sslMode = parameter('sslmode', 'PGSSLMODE') ?? 'disable';
  if (!isSslMode(sslMode)) {
    throw new DatabaseUrlError(`${name}: sslmode=${sslMode} is not one of ${SSL_MODES.join(', ')}`);
  }
  const rootCert = parameter('sslrootcert', 'PGSSLROOTCERT') ?? libpqDefaultRootCert();
  const clientCert = parameter('sslcert', 'PGSSLCERT');
  const clientKey = parameter('sslkey', 'PGSSLKEY');
  for (const name of TLS_PARAMETERS) url.searchParams.delete(name);
  if (sslMode === 'disable') return { url: url.toString(), sslMode, ssl: false, plainFallback: false };

  const ca = rootCert && rootCert !== 'system' ? readTlsFile(rootCert, `${name}: sslrootcert`) : undefined;
  const identity: ConnectionOptions = {
    ...(clientCert && { cert: readTlsFile(clientCert, `${name}: sslcert`) }),
    ...(clientKey && { key: readTlsFile(clientKey, `${name}: sslkey`) }),
  };
  const verifyChain = sslMode === 'verify-ca' || sslMode === 'verify-full' || (sslMode === 'require' && rootCert);
  const ssl: ConnectionOptions = !verifyChain
    ? { ...identity, rejectUnauthorized: false }
    : {
        ...identity,
        ...(ca && { ca }),
        rejectUnauthorized: true,
        checkServerIdentity: sslMode === 'verify-full' ? checkServerIdentity : () => undefined,
      };
  return { url: url.toString(), sslMode, ssl, plainFallback: sslMode === 'prefer' || sslMode === 'allow' };
}

/** The same target, over a plain connection (what `prefer` falls back to). */
export function withoutTls(target: DatabaseTarget): DatabaseTarget {
  return { ...target, ssl: false, plainFallback: false };
}

/** node-postgres' client configuration for the target; TLS is ours, never read from the URL. */
export function pgClientConfig(target: DatabaseTarget, extra: pg.ClientConfig = {}): pg.ClientConfig {
  return { connectionString: target.url, ssl: target.ssl, ...extra };
}

/**
 * A connected node-postgres client, and the target it connected with: under `prefer` or
 * `allow`, a server that answers the TLS request with "no" is asked again without TLS.
 */
export async function connectClient(
  target: DatabaseTarget,
  extra: pg.ClientConfig = {},
): Promise<{ client: pg.Client; target: DatabaseTarget }> {
  const client = new pg.Client(pgClientConfig(target, extra));
  client.on('error', () => {}); // a connection dropped after we are done with it
  try {
    await client.connect();
    return { client, target };
  } catch (error) {
    await client.end().catch(() => {});
    if (target.plainFallback && isTlsRefused(error)) return connectClient(withoutTls(target), extra);
    throw error;
  }
}

/** The error node-postgres gives when the server answers the TLS request with "no". */
export function isTlsRefused(error: unknown): boolean {
  return error instanceof Error && error.message === 'The server does not support SSL connections';
}

function isSslMode(value: string): value is SslMode {
  return (SSL_MODES as readonly string[]).includes(value);
}

function libpqDefaultRootCert(): string | undefined {
  const path = join(homedir(), '.postgresql', 'root.crt');
  return existsSync(path) ? path : undefined;
}

function readTlsFile(path: string, parameter: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new DatabaseUrlError(`${parameter} ${path} cannot be read: ${(error as Error).message}`);
  }
}
