-- The chat_sessions table and the indexes its list queries use.
-- Forward-only: a later change is a new file, never an edit of this one.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE chat_sessions (
  id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     text        NOT NULL
              CHECK (char_length(user_id) BETWEEN 1 AND 255 AND user_id ~ '^[A-Za-z0-9._@:|+-]+$'),
  title       text
              CHECK (char_length(title) BETWEEN 1 AND 500),
  status      text        NOT NULL DEFAULT 'active'
              CHECK (status IN ('active', 'archived', 'closed')),
  is_active   boolean     NOT NULL DEFAULT true,
  metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb
              CHECK (jsonb_typeof(metadata) = 'object'),
  -- Millisecond precision: the API speaks RFC 3339 with milliseconds, and keyset cursors
  -- compare the exact values they were given.
  created_at  timestamptz(3) NOT NULL DEFAULT now(),
  updated_at  timestamptz(3) NOT NULL DEFAULT now(),
  -- Bumped by every write; the ETag is derived from it.
  version     integer     NOT NULL DEFAULT 1
);

-- Each list sort has an index ending in id (the tie-breaker), both per user and across users,
-- so a keyset page starts at its position instead of scanning what it skips.
CREATE INDEX idx_chat_sessions_user_id ON chat_sessions (user_id, created_at, id);
CREATE INDEX idx_chat_sessions_user_id_updated_at ON chat_sessions (user_id, updated_at, id);
CREATE INDEX idx_chat_sessions_user_id_title ON chat_sessions (user_id, coalesce(title, ''), id);
CREATE INDEX idx_chat_sessions_created_at ON chat_sessions (created_at, id);
CREATE INDEX idx_chat_sessions_updated_at ON chat_sessions (updated_at, id);
CREATE INDEX idx_chat_sessions_title ON chat_sessions (coalesce(title, ''), id);
CREATE INDEX idx_chat_sessions_status ON chat_sessions (status, created_at, id);
-- metadata[KEY]=VALUE filters use containment (metadata @> '{"KEY":"VALUE"}').
CREATE INDEX idx_chat_sessions_metadata ON chat_sessions USING gin (metadata jsonb_path_ops);
-- q filters use ILIKE '%…%' on the title.
CREATE INDEX idx_chat_sessions_title_trgm ON chat_sessions USING gin (title gin_trgm_ops);
