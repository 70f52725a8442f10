-- Secrets every instance of the service must share (e.g. the key that signs list cursors),
-- generated once by the database so that a fresh install needs no configuration.
CREATE TABLE server_secrets (
  name       text        PRIMARY KEY,
  value      bytea       NOT NULL CHECK (octet_length(value) >= 32),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- gen_random_uuid() draws from the server's strong random source: two of them give 244 random bits.
INSERT INTO server_secrets (name, value)
VALUES ('cursor', sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')));
