import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CommonQueryMethods, type DatabasePool, sql } from 'slonik';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { RETRY_AFTER_SECONDS } from '../http/problems.ts';
import { type Retry, retrying } from '../db/retry.ts';

export type StoredReply = { status: number; headers: Record<string, string>; body: unknown };

const KEY_LIFETIME = sql.fragment`interval '24 hours'`;
// How long a request may hold a key before another may take it over (it crashed, we assume).
const LEASE = sql.fragment`interval '30 seconds'`;

const keyRow = z.object({
  fingerprint: z.string(),
  response: z.custom<StoredReply>().nullable(),
});

type Work = (db: CommonQueryMethods) => Promise<StoredReply>;

type Options = {
  /** How long a request waits for a concurrent one with the same key before answering 409. */
  waitMs: number;
};

/**
 * Runs a create at most once per (scope, key) for 24 hours and replays its response after that.
 * The create and the stored response commit in one transaction: either both exist or neither.
 */
export function createIdempotencyStore(pool: DatabasePool, retry: Retry, { waitMs }: Options) {
  // Claims are keyed by their owner and reads change nothing: both may be sent again.
  const repeatable = retrying(pool, retry, true);
  const writes = retrying(pool, retry, false);

  async function claim(scope: string, key: string, fingerprint: string, owner: string): Promise<boolean> {
    const claimed = await repeatable.maybeOne(sql.type(z.object({ owner: z.string() }))`
      INSERT INTO idempotency_keys AS k (scope, key, fingerprint, owner, lease_until)
      VALUES (${scope}, ${key}, ${fingerprint}, ${owner}, now() + ${LEASE})
      ON CONFLICT (scope, key) DO UPDATE
        SET fingerprint = excluded.fingerprint, owner = excluded.owner, lease_until = excluded.lease_until,
            response = NULL, created_at = now(), expires_at = now() + ${KEY_LIFETIME}
        -- An expired key is new again; an abandoned claim on the same request may be taken over.
        WHERE k.expires_at <= now()
           OR (k.response IS NULL AND k.lease_until <= now() AND k.fingerprint = excluded.fingerprint)
           OR k.owner = excluded.owner -- our own claim, sent again after a lost connection
      RETURNING owner`);
    return claimed?.owner === owner;
  }

  async function existing(scope: string, key: string) {
    return repeatable.maybeOne(sql.type(keyRow)`
      SELECT fingerprint, response FROM idempotency_keys
      WHERE scope = ${scope} AND key = ${key} AND expires_at > now()`);
  }

  /** Someone else holds the key: its stored reply, waiting a little while it is still running. */
  async function storedReply(scope: string, key: string, fingerprint: string): Promise<StoredReply | undefined> {
    const deadline = Date.now() + waitMs;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const row = await existing(scope, key);
      if (!row) return undefined; // its request failed and let go of the key, or it expired
      if (row.fingerprint !== fingerprint) {
        throw new AppError('idempotency_key_reused', 'This Idempotency-Key was used with a different request body');
      }
      if (row.response) return row.response;
      if (Date.now() + pause > deadline) throw inProgress();
      await sleep(pause);
    }
  }

  async function runClaimed(scope: string, key: string, owner: string, work: Work): Promise<StoredReply> {
    try {
      return await writes.transaction(async (transaction) => {
        const reply = await work(transaction);
        const stored = await transaction.maybeOne(sql.type(z.object({ key: z.string() }))`
          UPDATE idempotency_keys SET response = ${sql.json(reply as never)}, owner = NULL, lease_until = NULL
          WHERE scope = ${scope} AND key = ${key} AND owner = ${owner}
          RETURNING key`);
        // Our lease ran out and another request took the key over: let it be the one.
        if (!stored) throw inProgress();
        return reply;
      });
    } catch (error) {
      // A failed first request must not poison its key: let a retry start afresh.
      await repeatable
        .query(sql.unsafe`DELETE FROM idempotency_keys WHERE scope = ${scope} AND key = ${key} AND owner = ${owner}`)
        .catch(() => {});
      throw error;
    }
  }

  return {
    /**
     * Runs `work` once for this key and request and stores its reply in the same transaction;
     * later (or concurrent) calls get that stored reply, marked `replayed`.
     */
    async once(scope: string, key: string, request: unknown, work: Work): Promise<{ reply: StoredReply; replayed: boolean }> {
      const fingerprint = fingerprintOf(request);
      for (let attempt = 0; attempt < 3; attempt++) {
        const owner = randomUUID();
        if (await claim(scope, key, fingerprint, owner)) {
          return { reply: await runClaimed(scope, key, owner, work), replayed: false };
        }
        const stored = await storedReply(scope, key, fingerprint);
        if (stored) return { reply: stored, replayed: true };
        // The key was let go of meanwhile: try to claim it again.
      }
      throw inProgress();
    },

    /** Deletes expired keys, a batch at a time; returns how many. */
    async purgeExpired(): Promise<number> {
      let total = 0;
      for (;;) {
        const deleted = await repeatable.oneFirst(sql.type(z.object({ count: z.number() }))`
          WITH expired AS (
            DELETE FROM idempotency_keys WHERE ctid IN (
              SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT 1000)
            RETURNING 1)
          SELECT count(*)::int AS count FROM expired`);
        total += deleted;
        if (deleted < 1000) return total;
      }
    },
  };
}

function inProgress(): AppError {
  return new AppError('idempotency_in_progress', 'A request with this Idempotency-Key is still in progress; retry shortly', {
    headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
  });
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;

/** Same operation and same body (whatever the order of its keys) → same fingerprint. */
export function fingerprintOf(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, child]) => `${JSON.stringify(key)}:${canonicalJson(child)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Expired keys are deleted by the service itself: now, then every `intervalMs`. */
export function purgeExpiredKeysPeriodically(
  store: IdempotencyStore,
  intervalMs: number,
  onError: (error: unknown) => void,
): () => void {
  const purge = () => void store.purgeExpired().catch(onError);
  purge();
  const timer = setInterval(purge, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
