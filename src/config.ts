import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { SSL_MODES } from './db/connection.ts';

const boundedInt = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const databaseUrl = z
  .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' })
  .refine((url) => (SSL_MODES as readonly string[]).includes(new URL(url).searchParams.get('sslmode') ?? 'disable'), {
    error: `sslmode must be one of ${SSL_MODES.join(', ')}`,
  });

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: boundedInt(0, 65535, 8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: databaseUrl.optional(),
  // Where migrations run, when not over DATABASE_URL: a direct connection beside a pooler.
  MIGRATION_DATABASE_URL: databaseUrl.optional(),
  DB_POOL_SIZE: boundedInt(1, 1000, 20),
  DB_RETRY_LIMIT: boundedInt(0, 10, 3),
  DB_STATEMENT_TIMEOUT_MS: boundedInt(100, 600_000, 5_000),
  DB_CONNECTION_TIMEOUT_MS: boundedInt(100, 60_000, 3_000),
  // How long start-up waits for the database before giving up.
  DB_STARTUP_TIMEOUT_MS: boundedInt(0, 3_600_000, 60_000),
  // Named prepared statements on the hot paths; `off` behind a transaction-mode pooler that cannot carry them.
  DB_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on'),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Unset: readable lines on a terminal outside production, JSON lines otherwise (see logFormat).
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  BODY_LIMIT: boundedInt(1, 10 * 1024 * 1024, 64 * 1024),
  // Largest request body on the message endpoints (a batch of up to 100 messages).
  MESSAGES_BODY_LIMIT: boundedInt(1024, 256 * 1024 * 1024, 4 * 1024 * 1024),
  // Largest import (POST /sessions/import: a JSON Lines document, held in memory while it is imported).
  IMPORT_BODY_LIMIT: boundedInt(1024, 1024 * 1024 * 1024, 50 * 1024 * 1024),
  // Most messages one session may hold; an append past it is a 409.
  MAX_MESSAGES_PER_SESSION: boundedInt(1, 10_000_000, 100_000),
  // An in_progress message with no write for this long reads as incomplete (finish_reason error).
  IN_PROGRESS_TIMEOUT_S: boundedInt(1, 7 * 24 * 3600, 600),
  // Longest request URL (path and query) accepted; request headers are bounded by Node (16 KiB).
  MAX_URL_LENGTH: boundedInt(256, 65_536, 8_192),
  SHUTDOWN_TIMEOUT_MS: boundedInt(0, 600_000, 10_000),
  // How long a keyed create waits for a concurrent one with the same key before answering 409.
  IDEMPOTENCY_WAIT_MS: boundedInt(0, 60_000, 5_000),
  // Signs list cursors. Unset: a random secret kept in the database, shared by every instance.
  CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  // Where the embedded PostgreSQL keeps its data when DATABASE_URL is unset.
  EMBEDDED_PG_DIR: z.string().min(1).default('.data/postgres'),
  EMBEDDED_PG_PORT: boundedInt(1, 65535, 54329),
  // Authentication: `jwt` (the default when NODE_ENV=production) or `none` (the local default).
  AUTH_MODE: z.enum(['jwt', 'none']).optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 shared secret)').optional(),
  JWT_JWKS_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL of a JWKS' }).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  JWT_CLOCK_TOLERANCE_S: boundedInt(0, 600, 30),
  // A token with an unknown key id refetches the JWKS, at most once per this many milliseconds.
  JWT_JWKS_COOLDOWN_MS: boundedInt(0, 600_000, 5_000),
  // A token carrying this scope (or role service_role) acts for any user.
  JWT_ADMIN_SCOPE: z.string().min(1).default('sessions:admin'),
  // When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`.
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
});

const withDerivedDefaults = schema
  .transform(({ AUTH_MODE, ...config }) => ({
    ...config,
    AUTH_MODE: AUTH_MODE ?? (config.NODE_ENV === 'production' ? ('jwt' as const) : ('none' as const)),
  }))
  .superRefine((config, context) => {
    if (config.AUTH_MODE === 'jwt' && !config.JWT_SECRET && !config.JWT_JWKS_URL) {
      context.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: 'JWT_SECRET or JWT_JWKS_URL must be set when AUTH_MODE is jwt (the default when NODE_ENV=production)',
      });
    }
  });

export type Config = z.infer<typeof withDerivedDefaults>;

/** Reads `.env` (when present) under the real environment, which wins. */
export function readEnvironment(envFile = '.env'): Record<string, string | undefined> {
  const fromFile = existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

export class ConfigError extends Error {}

/** Validates the environment; a bad value names its variable. Empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = readEnvironment()): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = withDerivedDefaults.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}
