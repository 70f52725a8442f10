import type { Handlers } from '../contract/types.ts';
import { callerScope, ownerScope } from '../auth/caller.ts';
import { AppError } from '../errors.ts';
import type { SearchService } from './service.ts';

/** Translate a validated request into a service call, and its result into a reply. */
export function createSearchHandlers(search: SearchService): Pick<Handlers, 'searchMessages'> {
  return {
    async searchMessages({ query, caller }) {
      const owner = ownerScope(caller);
      if (owner !== undefined && query.user_id !== undefined && query.user_id !== owner) {
        throw new AppError('forbidden', 'A user token may search only its own messages: drop user_id or give your own');
      }
      return { status: 200, body: await search.search(query, owner, callerScope(caller)), headers: {} };
    },
  };
}
