/**
 * A PostgreSQL that speaks TLS only, with a certificate from a CA of the test's own (made with
 * openssl), as managed PostgreSQL services run: pg_hba accepts `hostssl` and nothing else.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { freePort } from './pg.ts';

export type TlsPostgres = {
  port: number;
  /** The CA that signed the server's certificate (whose only name is `localhost`). */
  caFile: string;
  /** Another CA, which signed nothing this server has. */
  wrongCaFile: string;
  /** A URL as postgres, to `host` (localhost or 127.0.0.1), with the given query parameters. */
  url: (options?: { host?: string; database?: string; user?: string; password?: string; params?: Record<string, string> }) => string;
  /** Runs a statement as the superuser (over TLS, verified) and returns its rows. */
  query: <Row extends pg.QueryResultRow>(statement: string) => Promise<Row[]>;
  destroy: () => Promise<void>;
};

/** pg_hba refuses this role outright, whatever its password. */
export const REJECTED_ROLE = 'rejected_by_hba';

export async function startTlsPostgres(): Promise<TlsPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'chat-sessions-tls-'));
  chmodSync(root, 0o755);
  const dir = join(root, 'data');
  const port = await freePort();
  const files = makeCertificates(root);

  // First start initialises the cluster; TLS and pg_hba are then set, and it starts again.
  await (await startEmbeddedPostgres({ dir, port })).stop();
  appendFileSync(
    join(dir, 'postgresql.conf'),
    `\nssl = on\nssl_cert_file = '${files.serverCert}'\nssl_key_file = '${files.serverKey}'\n`,
  );
  writeFileSync(
    join(dir, 'pg_hba.conf'),
    [
      `hostssl all ${REJECTED_ROLE} 127.0.0.1/32 reject`,
      'hostssl all all 127.0.0.1/32 scram-sha-256',
      'hostssl all all ::1/128 scram-sha-256',
      '',
    ].join('\n'),
  );
  let running: EmbeddedPostgres | undefined = await startEmbeddedPostgres({ dir, port });

  const url: TlsPostgres['url'] = ({ host = 'localhost', database = 'postgres', user = 'postgres', password = 'postgres', params = {} } = {}) =>
    `postgres://${user}:${password}@${host}:${port}/${database}?${new URLSearchParams(params)}`;
  return {
    port,
    caFile: files.caCert,
    wrongCaFile: files.wrongCaCert,
    url,
    query: async <Row extends pg.QueryResultRow>(statement: string) => {
      const client = new pg.Client({ connectionString: url(), ssl: { ca: readFileSync(files.caCert, 'utf8') } });
      await client.connect();
      try {
        return (await client.query<Row>(statement)).rows;
      } finally {
        await client.end();
      }
    },
    destroy: async () => {
      await running?.stop();
      running = undefined;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function makeCertificates(dir: string) {
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=chat-sessions test CA');
  openssl('req', '-x509', ...ec, '-keyout', 'wrong-ca.key', '-out', 'wrong-ca.crt', '-days', '2', '-subj', '/CN=some other CA');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(path('server.ext'), 'subjectAltName = DNS:localhost\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'server.ext', '-out', 'server.crt');
  // PostgreSQL reads its key only if it owns it and nobody else may read it.
  chmodSync(path('server.key'), 0o600);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    chownSync(path('server.key'), uid, Number(execFileSync('id', ['-g', 'postgres']).toString()));
  }
  return { caCert: path('ca.crt'), wrongCaCert: path('wrong-ca.crt'), serverCert: path('server.crt'), serverKey: path('server.key') };
}
