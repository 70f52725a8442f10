-- Branches: edits and regenerations (SPEC.md "Branching"; docs/architecture.md "Branches").
-- Forward-only: a later change is a new file, never an edit of this one.
--
-- A session's messages form a tree (parent_id). It is stored as "runs": a message continues its
-- parent's run when its parent is the session's newest message (a linear chat is one run),
-- otherwise it starts a run of its own, whose id is its seq. A run is therefore a chain, and a
-- branch (root → leaf) is a list of segments "run R, seq <= bound", disjoint and ordered in seq:
-- a page of a branch is a few range scans of (session_id, run_id, seq), each bounded by the
-- page's limit, whatever the number of branches or the depth of the tree.
ALTER TABLE chat_messages
  -- Every existing session is linear (appends followed the newest message): one run, id 1.
  ADD COLUMN run_id     integer NOT NULL DEFAULT 1,
  -- The message is its run's first (a root, or the first message of an edit or regeneration).
  -- Siblings are counted among these alone, plus the parent's run successor (at most one).
  ADD COLUMN starts_run boolean NOT NULL DEFAULT false;

UPDATE chat_messages SET starts_run = true WHERE parent_id IS NULL;

-- Where a branch's messages are read from: one range per segment.
CREATE INDEX idx_chat_messages_run ON chat_messages (session_id, run_id, seq);

-- The messages that start a run, by parent (roots under the nil UUID): sibling_count and
-- sibling_index. A linear chat holds one entry here (its first message), so its appends write
-- none.
CREATE INDEX idx_chat_messages_forks ON chat_messages
  (session_id, (coalesce(parent_id, '00000000-0000-0000-0000-000000000000'::uuid)), seq)
  WHERE starts_run;

-- One row per run: the segments of the branch from the root to it, its own excluded (its
-- ancestors' run ids and bounds, root first), so a branch's segments are one row's read. Written
-- when a run starts, never afterwards: a deleted message's seq still bounds its run correctly.
CREATE TABLE chat_message_runs (
  session_id uuid      NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
  run_id     integer   NOT NULL,
  path_runs  integer[] NOT NULL,
  path_seqs  integer[] NOT NULL CHECK (cardinality(path_seqs) = cardinality(path_runs)),
  PRIMARY KEY (session_id, run_id)
);

INSERT INTO chat_message_runs (session_id, run_id, path_runs, path_seqs)
SELECT DISTINCT session_id, 1, '{}'::integer[], '{}'::integer[] FROM chat_messages;

-- The current leaf's run and seq, kept beside current_message_id: an append decides from the
-- locked session row alone whether it continues the leaf's run, and a page of the current branch
-- starts from them.
ALTER TABLE chat_sessions
  ADD COLUMN current_run_id integer,
  ADD COLUMN current_seq    integer;

UPDATE chat_sessions s SET current_run_id = m.run_id, current_seq = m.seq
FROM chat_messages m WHERE m.id = s.current_message_id;
