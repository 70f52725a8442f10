import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readEnvironment } from '../src/config.ts';

describe('configuration from the environment', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 8080,
      DB_POOL_SIZE: 20,
      DB_RETRY_LIMIT: 3,
      BODY_LIMIT: 65536,
      SHUTDOWN_TIMEOUT_MS: 10000,
      LOG_LEVEL: 'info',
      CORS_ORIGINS: [],
      MESSAGES_BODY_LIMIT: 4 * 1024 * 1024,
      MAX_MESSAGES_PER_SESSION: 100_000,
      IN_PROGRESS_TIMEOUT_S: 600,
      DB_PREPARED_STATEMENTS: 'on',
    });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DB_POOL_SIZE', '0'],
    ['DB_RETRY_LIMIT', '-1'],
    ['LOG_LEVEL', 'loud'],
    ['BODY_LIMIT', '1.5'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['DATABASE_URL', 'postgres://localhost/db?sslmode=verify'],
    ['MIGRATION_DATABASE_URL', 'mysql://localhost/db'],
    ['MIGRATION_DATABASE_URL', 'postgres://localhost/db?sslmode=strict'],
    ['SHUTDOWN_TIMEOUT_MS', 'soon'],
    ['MESSAGES_BODY_LIMIT', '4MiB'],
    ['MESSAGES_BODY_LIMIT', '100'],
    ['MAX_MESSAGES_PER_SESSION', '0'],
    ['IN_PROGRESS_TIMEOUT_S', '0'],
    ['IN_PROGRESS_TIMEOUT_S', '10m'],
    ['LOG_FORMAT', 'yaml'],
    ['DB_PREPARED_STATEMENTS', 'true'],
  ])('a bad %s (%s) stops start-up with a message naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}: `));
  });

  it('LOG_FORMAT is json or pretty, and unset by default (then chosen by the output: see logging.test.ts)', () => {
    expect(loadConfig({}).LOG_FORMAT).toBeUndefined();
    expect(loadConfig({ LOG_FORMAT: 'json' }).LOG_FORMAT).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).LOG_FORMAT).toBe('pretty');
  });

  it('DB_PREPARED_STATEMENTS is on or off (off: behind a transaction-mode pooler that cannot carry named statements)', () => {
    expect(loadConfig({ DB_PREPARED_STATEMENTS: 'off' }).DB_PREPARED_STATEMENTS).toBe('off');
    expect(loadConfig({ DB_PREPARED_STATEMENTS: 'on' }).DB_PREPARED_STATEMENTS).toBe('on');
  });

  it('splits CORS_ORIGINS on commas and trims them', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, https://b.example ,' }).CORS_ORIGINS).toEqual([
      'https://a.example',
      'https://b.example',
    ]);
  });

  it('takes every libpq sslmode, and MIGRATION_DATABASE_URL beside DATABASE_URL', () => {
    for (const mode of ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']) {
      expect(loadConfig({ DATABASE_URL: `postgres://db.example/app?sslmode=${mode}` }).DATABASE_URL).toContain(mode);
    }
    const config = loadConfig({ DATABASE_URL: 'postgres://pooler.example:6543/app', MIGRATION_DATABASE_URL: 'postgres://db.example:5432/app' });
    expect(config.MIGRATION_DATABASE_URL).toBe('postgres://db.example:5432/app');
    expect(loadConfig({}).MIGRATION_DATABASE_URL).toBeUndefined();
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).PORT).toBe(8080);
  });

  it('reads a .env file, and the real environment wins over it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'env-')), '.env');
    writeFileSync(file, 'PORT=9001\nLOG_LEVEL=debug\n');
    process.env.LOG_LEVEL = 'warn';
    try {
      const config = loadConfig(readEnvironment(file));
      expect(config.PORT).toBe(9001);
      expect(config.LOG_LEVEL).toBe('warn');
    } finally {
      delete process.env.LOG_LEVEL;
    }
  });
});
