-- Every index of chat_sessions earns its place (issue 14; the measurements are in
-- docs/performance.md, "Indexes: what each serves and costs").
-- Forward-only: a later change is a new file, never an edit of this one.
--
-- Every write of a session moves updated_at, which the per-user updated_at index holds, so no
-- update of a session row is HOT: each one (a message append included) writes a new entry into
-- every index of the table. What stays is what the contract's pages need:
--   chat_sessions_pkey                     a session by id (every get, write, append)
--   idx_chat_sessions_user_id              a user's pages by created_at
--   idx_chat_sessions_user_id_updated_at   a user's pages by updated_at (most recently active first)
--   idx_chat_sessions_user_id_title        a user's pages by title
--   idx_chat_sessions_created_at           pages across users (service tokens) by created_at, and
--                                          created_after/created_before ranges across users
-- What goes: the other orders across users, status across users, and the two GIN indexes. Within
-- one user, q, metadata and status filter the user's rows as the page's index walks them; across
-- users they, the other sorts and include_total are scans bounded by the statement timeout (a
-- 422 query-too-broad when they run out of it: src/sessions/service.ts, openapi.yaml).
DROP INDEX idx_chat_sessions_updated_at;
DROP INDEX idx_chat_sessions_title;
DROP INDEX idx_chat_sessions_status;
DROP INDEX idx_chat_sessions_metadata;
DROP INDEX idx_chat_sessions_title_trgm;
