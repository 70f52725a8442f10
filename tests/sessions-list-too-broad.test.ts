/**
 * Across users only the created_at order is index-served (docs/performance.md, "Indexes"): q,
 * metadata, the other sorts and include_total scan every user's sessions, bounded by the
 * statement timeout. A list across users that runs out of time is the client's query being too
 * broad (422 query-too-broad, saying how to narrow it), never a 500, and not a 503 inviting the
 * same request again; within one user a timeout is the database's trouble (503). The timeout is
 * provoked deterministically: another connection holds the table locked while the list runs.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

const service = useTestService({ DB_STATEMENT_TIMEOUT_MS: '300' });
let locker: pg.Client | undefined;

/** Holds chat_sessions ACCESS EXCLUSIVE-locked until the test ends: every list statement waits until its timeout. */
async function lockSessions(): Promise<void> {
  locker = new pg.Client({ connectionString: service.databaseUrl });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE chat_sessions IN ACCESS EXCLUSIVE MODE');
}

afterEach(async () => {
  await locker?.query('ROLLBACK');
  await locker?.end();
  locker = undefined;
});

describe('a list that runs out of time', () => {
  it.each([
    ['q', 'q=report'],
    ['metadata', 'metadata[source]=web'],
    ['sort=-updated_at', 'sort=-updated_at'],
    ['include_total', 'include_total=true'],
  ])('across users with %s is a 422 query-too-broad that says to give user_id', async (_what, query) => {
    await lockSessions();
    const response = await service.api.get(`/sessions?${query}`);
    expect(response.status).toBe(422);
    expect(response.body.type).toBe('/problems/query-too-broad');
    expect(response.body.detail).toMatch(/give user_id/);
  });

  it("within one user's sessions is a 503: the database, not the query, is the trouble", async () => {
    await lockSessions();
    const response = await service.api.get('/sessions?user_id=user_1&q=report');
    expect(response.status).toBe(503);
    expect(response.body.type).toBe('/problems/service-unavailable');
  });

  it('across users, the same list answers 200 once nothing holds the table', async () => {
    const response = await service.api.get('/sessions?q=report&metadata[source]=web&sort=-updated_at&include_total=true');
    expect(response.status).toBe(200);
  });
});
