import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { Logger } from 'pino';
import { createLogger } from '../../src/http/logging.ts';
import { type RunningService, startService } from '../../src/main.ts';
import { type ApiClient, createApiClient } from './client.ts';
import { createTestDatabase } from './database.ts';

export type TestService = {
  /** The server's origin, e.g. http://127.0.0.1:41234 */
  origin: string;
  /** The fresh database this service runs on. */
  databaseUrl: string;
  api: ApiClient;
  stop: () => Promise<void>;
};

/** The real service (real HTTP, real Koa app, real PostgreSQL) on a fresh database of its own. */
export async function startTestService(env: Record<string, string> = {}): Promise<TestService> {
  const database = await createTestDatabase();
  try {
    const service = await startInstance(database.url, env);
    return { ...service, stop: async () => { await service.stop(); await database.drop(); } };
  } catch (error) {
    await database.drop();
    throw error;
  }
}

/** One more instance of the service on an existing database (instances share nothing else). */
export async function startInstance(databaseUrl: string, env: Record<string, string> = {}, logger?: Logger): Promise<TestService> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const service: RunningService = await startService(config, logger ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
  return { origin: service.url, databaseUrl, api: createApiClient(service.url), stop: service.stop };
}

/** One service for the whole test file: started before its tests, stopped after. */
export function useTestService(env: Record<string, string> = {}): TestService {
  const holder = {} as TestService;
  beforeAll(async () => {
    Object.assign(holder, await startTestService(env));
  });
  afterAll(async () => {
    await holder.stop?.();
  });
  return holder;
}
