-- Full-text search over the caller's messages (GET /messages/search; docs/performance.md,
-- "Search"). Forward-only: a later change is a new file, never an edit of this one.
--
-- What is searched: the text of text and refusal parts, a tool_result's output and a source's
-- snippet (not a tool call's arguments, urls, file ids or reasoning). The extraction is an
-- IMMUTABLE function of content alone, so it can feed a generated column.

-- A multicolumn GIN of (user_id, search_vector) needs GIN operator classes for text.
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The searchable text of a message, parts joined by newlines. Capped at 200,000 characters: a
-- tsvector holds at most 1 MB, and a 1 MiB message of distinct one-character words would need
-- about 4.5 bytes per character of it (lexeme, alignment, count, position); 200,000 stays under
-- the limit whatever the text, so no append can fail on it. Snippets are cut from the same text.
CREATE FUNCTION chat_message_search_text(content jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN left(
  (SELECT string_agg(
            CASE part ->> 'type'
              WHEN 'text' THEN part ->> 'text'
              WHEN 'refusal' THEN part ->> 'text'
              WHEN 'tool_result' THEN part ->> 'output'
              WHEN 'source' THEN part ->> 'snippet'
            END,
            E'\n' ORDER BY position)
   FROM jsonb_array_elements(content) WITH ORDINALITY AS parts(part, position)),
  200000);

-- Whose message it is, so that one user's search is one index lookup whatever the table holds
-- (chat_sessions.user_id never changes). Filled from the session on insert when not given: every
-- writer of chat_messages (appends, forks, imports) gets it without knowing of it.
ALTER TABLE chat_messages ADD COLUMN user_id text;
UPDATE chat_messages m SET user_id = s.user_id FROM chat_sessions s WHERE s.id = m.session_id;
ALTER TABLE chat_messages ALTER COLUMN user_id SET NOT NULL;

CREATE FUNCTION chat_messages_owner() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT user_id INTO NEW.user_id FROM chat_sessions WHERE id = NEW.session_id;
  RETURN NEW;
END
$$;

CREATE TRIGGER chat_messages_owner BEFORE INSERT ON chat_messages
FOR EACH ROW WHEN (NEW.user_id IS NULL) EXECUTE FUNCTION chat_messages_owner();

-- The 'simple' configuration: lower-cased words, no stemming, no stop words, so every language
-- is searchable (docs/operations.md says how to choose a language-aware one). A message being
-- generated (in_progress) is not indexed: its vector stays NULL while deltas stream in, so they
-- stay HOT updates (no index entry written per delta); it is indexed once it is finished.
ALTER TABLE chat_messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
  CASE WHEN status <> 'in_progress'
    THEN to_tsvector('simple'::regconfig, coalesce(chat_message_search_text(content), ''))
  END
) STORED;

-- A user's matches of a word: one GIN lookup of both keys. A 1 KB message brings ~170 entries.
-- Written at once (fastupdate off) they touch as many leaf pages: 49 KB of WAL per append here
-- (full-page images), 2.9 ms. Through the pending list (fastupdate on) they are appended to it and
-- merged in bulk when it passes gin_pending_list_limit (or by autovacuum): 21 KB and 1.8 ms with a
-- limit of 1 MB. A search reads the pending list too; at 1 MB that cost was within noise, and a
-- quarter of the default 4 MB bounds the stall of the append that happens to merge it
-- (docs/performance.md, "Search").
CREATE INDEX idx_chat_messages_search ON chat_messages USING gin (user_id, search_vector)
  WITH (fastupdate = on, gin_pending_list_limit = 1024);

-- A user's messages newest first: the candidates of a common word are its newest matches, found by
-- walking this index and testing each message's vector, without ranking every match.
-- (created_at, session_id, seq) orders them totally: one append's messages share a created_at, and
-- their seq says which is newer.
CREATE INDEX idx_chat_messages_user_id_created_at ON chat_messages (user_id, created_at, session_id, seq);
