-- Idempotency keys of POST /sessions: who holds a key, the request it was used with, and the
-- response to replay. Shared by every instance; the service keeps no state of its own.
CREATE TABLE idempotency_keys (
  -- Whose key it is ('' until callers are authenticated): one caller's key is useless to another.
  scope        text        NOT NULL DEFAULT '',
  key          text        NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 255),
  -- sha256 of the operation and its canonical request body.
  fingerprint  text        NOT NULL,
  -- The request working under this key, until it stores its response; a crashed one's lease runs out.
  owner        uuid,
  lease_until  timestamptz,
  -- {status, headers, body} of the first response, once there is one; json (not jsonb) keeps
  -- the text as sent, so a replay is byte for byte the first response.
  response     json,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  PRIMARY KEY (scope, key),
  CHECK ((response IS NULL) = (owner IS NOT NULL))
);

CREATE INDEX idx_idempotency_keys_expires_at ON idempotency_keys (expires_at);
