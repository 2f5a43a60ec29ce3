-- Sessions of the admin console, and replay protection for TOTP codes.
--
-- The cookie carries a random token; only its SHA-256 is stored, so a copy of this table
-- cannot be used to sign in. Signing out, or an administrator removing the user, deletes
-- the row and ends the session at once, which a self-contained signed cookie could not do.

CREATE TABLE admin_sessions (
    token_hash            bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id               uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'password', 'oidc' or 'saml': how the user proved who they are.
    method                text        NOT NULL CHECK (method IN ('password', 'oidc', 'saml')),
    -- Password accepted, TOTP code not yet given: the session may only finish sign-in.
    second_factor_pending boolean     NOT NULL DEFAULT false,
    -- A one-time message for the next page (e.g. a new key's secret), read and cleared;
    -- encrypted with a key derived from the session token, which only the cookie holds.
    flash                 text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    last_seen_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX admin_sessions_user_id_idx ON admin_sessions (user_id);
CREATE INDEX admin_sessions_expires_at_idx ON admin_sessions (expires_at);

-- The time step of the last TOTP code accepted: a code is good once, never replayed.
ALTER TABLE users ADD COLUMN totp_last_step bigint;
