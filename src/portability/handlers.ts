import { createHash } from 'node:crypto';
import type { Handlers } from '../contract/types.ts';
import { callerScope, ownerScope } from '../auth/caller.ts';
import type { IdempotencyStore } from '../idempotency/store.ts';
import type { SessionWithEtag } from '../sessions/service.ts';
import type { ValidateImport } from './import.ts';
import type { PortabilityService } from './service.ts';

type PortabilityHandlers = Pick<Handlers, 'forkSession' | 'exportSession' | 'importSession'>;

const mediaTypes = { jsonl: 'application/jsonl', markdown: 'text/markdown; charset=utf-8' } as const;
const extensions = { jsonl: 'jsonl', markdown: 'md' } as const;

/** Translate a validated request into a service call, and its result into a reply. */
export function createPortabilityHandlers(
  portability: PortabilityService,
  validateImport: ValidateImport,
  idempotency: IdempotencyStore,
  basePath: string,
  onReplay: () => void,
): PortabilityHandlers {
  const created = ({ session, etag }: SessionWithEtag) => ({
    status: 201 as const,
    body: session,
    headers: { Location: `${basePath}/sessions/${session.id}`, ETag: etag },
  });

  /** Runs a create once per Idempotency-Key (the caller's), as session creates do. */
  async function once<T extends ReturnType<typeof created>>(
    key: string | undefined,
    scope: string,
    request: unknown,
    create: (db?: Parameters<Parameters<IdempotencyStore['once']>[3]>[0]) => Promise<T>,
  ): Promise<T> {
    if (key === undefined) return create();
    const { reply, replayed } = await idempotency.once(scope, key, request, create);
    const first = reply as T;
    if (!replayed) return first;
    onReplay();
    return { ...first, headers: { ...first.headers, 'Idempotent-Replayed': 'true' } };
  }

  return {
    async forkSession({ path, body, headers, caller }) {
      const owner = ownerScope(caller);
      const request = { forkSession: { session_id: path.id, body } };
      return once(headers['Idempotency-Key'], callerScope(caller), request, async (db) =>
        created(await portability.fork(path.id, body, owner, db)),
      );
    },

    async exportSession({ path, query, caller }) {
      const format = query.format!; // the contract supplies the default
      const { session, body } = await portability.export(path.id, format, ownerScope(caller));
      return {
        status: 200,
        body,
        headers: {
          'Content-Type': mediaTypes[format],
          // The id alone: a title would need escaping for every client's idea of a safe file name.
          'Content-Disposition': `attachment; filename="session-${session.id}.${extensions[format]}"`,
        },
      };
    },

    async importSession({ body, headers, caller }) {
      const bytes = body ?? Buffer.alloc(0);
      // Checked in full before a connection is taken: a bad file costs the database nothing.
      const document = validateImport(bytes, ownerScope(caller));
      // The fingerprint of a 50 MiB body is its hash, not its text (the key's row stores it).
      const request = { importSession: createHash('sha256').update(bytes).digest('hex'), user_id: document.session.user_id };
      return once(headers['Idempotency-Key'], callerScope(caller), request, async (db) => created(await portability.import(document, db)));
    },
  };
}
