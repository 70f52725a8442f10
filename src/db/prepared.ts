import { createHash } from 'node:crypto';
import { type Interceptor, type QuerySqlToken, sql, type ValueExpression } from 'slonik';

type RowSchema = Parameters<typeof sql.type>[0];

/**
 * Most texts one statement may prepare. A statement's text varies with its optional parts
 * (filters, sort, owner, If-Match), so each name stands for a family of texts; the common ones
 * come first and stay prepared, a rare one past the bound simply runs unnamed. With nine statements
 * that is at most 144 prepared per connection (each a few KB of the backend's memory).
 */
const TEXTS_PER_STATEMENT = 16;

/** Each family's texts and their names, for the life of the process. */
const families = new Map<string, Map<string, string>>();

/**
 * `sql.type(schema)`, as a named prepared statement: PostgreSQL parses and plans it once per
 * connection, and each later use sends only Bind/Execute (node-postgres remembers which names a
 * connection has prepared; a new connection starts with none). A name must always carry the
 * same text, so the name is derived from the text itself: `<family>_<first 64 bits of its
 * SHA-256>`. Two texts can then never share a name — in this process, across instances, or
 * across versions of the service behind one pooler — so a statement prepared by someone else
 * under the same name is this very text. DB_PREPARED_STATEMENTS=off strips the names again
 * (`unnamedStatements`, in the pool): the services do not know the setting.
 */
export function prepared<T extends RowSchema>(family: string, schema: T) {
  let names = families.get(family);
  if (!names) families.set(family, (names = new Map()));
  const typed = sql.type(schema);
  return (parts: TemplateStringsArray, ...values: ValueExpression[]): QuerySqlToken<T> => {
    const query = typed(parts, ...values);
    let name = names.get(query.sql);
    if (name === undefined) {
      if (names.size >= TEXTS_PER_STATEMENT) return query;
      name = `${family}_${createHash('sha256').update(query.sql).digest('hex').slice(0, 16)}`;
      names.set(query.sql, name);
    }
    return { name, parser: query.parser, sql: query.sql, type: query.type, values: query.values };
  };
}

/** DB_PREPARED_STATEMENTS=off: every statement unnamed, for a pooler that cannot carry named ones. */
export const unnamedStatements: Interceptor = {
  name: 'unnamed-statements',
  transformQuery: (_context, query) => (query.name === undefined ? query : { sql: query.sql, values: query.values }),
};
