-- Messages: the conversation inside a session.
-- Forward-only: a later change is a new file, never an edit of this one.

-- What the request path needs of a session's messages, kept on its row and changed in the same
-- statement as the messages: how many it holds, when its newest was created, the last seq handed
-- out (seqs are never reused, not even after a delete) and its current leaf (the newest message,
-- which the next append follows). Appends to one session serialise on this row.
ALTER TABLE chat_sessions
  ADD COLUMN message_count      integer        NOT NULL DEFAULT 0 CHECK (message_count >= 0),
  ADD COLUMN last_message_at    timestamptz(3),
  ADD COLUMN last_seq           integer        NOT NULL DEFAULT 0,
  ADD COLUMN current_message_id uuid;

CREATE TABLE chat_messages (
  session_id    uuid           NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
  -- 1 for a session's first message, then +1 per message appended to it, in commit order.
  seq           integer        NOT NULL CHECK (seq >= 1),
  id            uuid           NOT NULL UNIQUE,
  -- The message this one follows; null for a first message. Not a foreign key: deleting a
  -- message re-links its children to its parent in the same statement.
  parent_id     uuid,
  role          text           NOT NULL CHECK (role IN ('system', 'developer', 'user', 'assistant', 'tool')),
  content       jsonb          NOT NULL CHECK (jsonb_typeof(content) = 'array'),
  -- Bytes of content as compact UTF-8 JSON (what the 1 MiB limit counts), kept so that a streamed
  -- delta is checked against the limit without measuring the whole content again.
  content_bytes integer        NOT NULL CHECK (content_bytes >= 0),
  status        text           NOT NULL CHECK (status IN ('completed', 'in_progress', 'incomplete', 'failed')),
  model         text           CHECK (char_length(model) BETWEEN 1 AND 200),
  finish_reason text           CHECK (finish_reason IN ('stop', 'length', 'tool_calls', 'content_filter', 'cancelled', 'error')),
  usage         jsonb          CHECK (jsonb_typeof(usage) = 'object'),
  metadata      jsonb          NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
  created_at    timestamptz(3) NOT NULL DEFAULT now(),
  updated_at    timestamptz(3) NOT NULL DEFAULT now(),
  -- Bumped by every write; the message's ETag is derived from it.
  version       integer        NOT NULL DEFAULT 1,
  -- A page of a session's messages is one range scan of this index, whatever the session's
  -- length or the table's size.
  PRIMARY KEY (session_id, seq)
)
-- Streamed deltas rewrite a message that is being generated: room on its page lets PostgreSQL
-- keep the new version beside the old one (a HOT update, no index entries written).
WITH (fillfactor = 90);
