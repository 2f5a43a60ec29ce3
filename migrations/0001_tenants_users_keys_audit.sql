-- Tenants, users, roles, virtual API keys and the audit log.
--
-- Ids are UUIDs from gen_random_uuid() (built in since PostgreSQL 13): they can appear in
-- URLs and logs without revealing how many tenants or keys exist. Limits left NULL mean
-- "no limit at this level"; a key's limits apply within its tenant's.

CREATE TABLE tenants (
    id             uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    name           text          NOT NULL CHECK (name <> ''),
    slug           text          NOT NULL UNIQUE
                                 CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
    status         text          NOT NULL DEFAULT 'active'
                                 CHECK (status IN ('active', 'suspended')),
    plan           text          NOT NULL DEFAULT 'free',
    rpm            integer       CHECK (rpm >= 0),
    tpm            integer       CHECK (tpm >= 0),
    max_parallel   integer       CHECK (max_parallel >= 0),
    budget_usd     numeric(20, 10) CHECK (budget_usd >= 0),
    budget_period  text          CHECK (budget_period IN ('day', 'month')),
    -- NULL: every model; otherwise only these public model names.
    allowed_models text[],
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email             text        NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    -- NULL for users who only sign in through single sign-on.
    password_hash     text,
    is_platform_admin boolean     NOT NULL DEFAULT false,
    totp_secret       text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Addresses are compared case-insensitively everywhere (sign-in, invitations, SSO).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE memberships (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);

-- "Which tenants is this user in": the primary key only serves lookups by tenant.
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TABLE api_keys (
    id             uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid          NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The key outlives the user who made it; it stays the tenant's.
    user_id        uuid          REFERENCES users (id) ON DELETE SET NULL,
    name           text          NOT NULL,
    -- SHA-256 of the secret; the secret itself is shown once and never stored.
    key_hash       bytea         NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    -- Enough of the key to tell keys apart in lists and logs, e.g. 'sk-mb-ab12…wxyz'.
    prefix         text          NOT NULL,
    allowed_models text[],
    rpm            integer       CHECK (rpm >= 0),
    tpm            integer       CHECK (tpm >= 0),
    max_parallel   integer       CHECK (max_parallel >= 0),
    budget_usd     numeric(20, 10) CHECK (budget_usd >= 0),
    budget_period  text          CHECK (budget_period IN ('day', 'month')),
    tags           jsonb         NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(tags) = 'object'),
    expires_at     timestamptz,
    revoked_at     timestamptz,
    last_used_at   timestamptz,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now()
);

CREATE INDEX api_keys_tenant_id_idx ON api_keys (tenant_id);
-- Deleting a user sets their keys' user_id to NULL: without this it scans every key.
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id) WHERE user_id IS NOT NULL;
-- Finding a key from the prefix a user pasted (`prefix LIKE $1 || '%'`).
CREATE INDEX api_keys_prefix_idx ON api_keys (prefix text_pattern_ops);

-- Who did what, when, from where. tenant_id has no foreign key on purpose: the record of a
-- tenant must outlive the tenant (and a cascading delete would be refused below anyway).
CREATE TABLE audit_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    tenant_id   uuid,
    actor_type  text        NOT NULL
                            CHECK (actor_type IN ('user', 'key', 'master', 'system', 'anonymous')),
    actor_id    text,
    actor_label text,
    source_ip   inet,
    -- '<noun>.<verb>', e.g. 'tenant.create', 'key.revoke', 'user.login_failed'.
    action      text        NOT NULL CHECK (action <> ''),
    target_type text,
    target_id   text,
    changes     jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_tenant_id_at_idx ON audit_log (tenant_id, at DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);

-- The application never updates or deletes audit entries; the database refuses to as well,
-- so neither a bug nor a stray query can rewrite history. Statement-level, so even an UPDATE
-- or DELETE matching no rows is refused, and TRUNCATE (which skips row triggers) too.
-- Retention, if it is ever wanted, is a deliberate migration, never an ad-hoc DELETE.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING HINT = 'Audit entries are only ever inserted.';
END
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

COMMENT ON TABLE audit_log IS 'Append-only: UPDATE, DELETE and TRUNCATE are refused by a trigger.';
