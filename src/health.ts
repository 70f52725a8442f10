import { type DatabasePool, sql } from 'slonik';
import type { Handlers } from './contract/types.ts';
import { RETRY_AFTER_SECONDS } from './http/problems.ts';

const DATABASE_CHECK_TIMEOUT_MS = 1_000;

type HealthHandlers = Pick<Handlers, 'getHealth' | 'getLiveness'>;

export function createHealthHandlers(pool: DatabasePool, version: string): HealthHandlers {
  const uptime = () => Math.round(process.uptime() * 1000) / 1000;
  return {
    async getHealth() {
      const latency = await pingDatabase(pool);
      const ok = latency !== null;
      const body = {
        status: ok ? ('ok' as const) : ('unavailable' as const),
        database: { status: ok ? ('ok' as const) : ('unavailable' as const), latency_ms: latency },
        version,
        uptime_seconds: uptime(),
        timestamp: new Date().toISOString(),
      };
      if (ok) return { status: 200, body, headers: {} };
      return { status: 503, body, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } };
    },

    async getLiveness() {
      return { status: 200, body: { status: 'ok', uptime_seconds: uptime() }, headers: {} };
    },
  };
}

/** Round-trip time of `SELECT 1` in milliseconds, or null when it fails or takes over a second. */
async function pingDatabase(pool: DatabasePool): Promise<number | null> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), DATABASE_CHECK_TIMEOUT_MS);
  });
  const ping = pool.query(sql.unsafe`SELECT 1`).then(
    () => Math.round((performance.now() - started) * 100) / 100,
    () => null,
  );
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
