-- Single sign-on to the admin console: each tenant's identity provider (OpenID Connect or
-- SAML 2.0), who may come in through it, and with which role.
--
-- The OIDC client secret is stored encrypted (Fernet, under a key derived from the console
-- secret and the tenant's id), so a copy of this table alone does not reveal it, and one
-- tenant's ciphertext does not decrypt as another's. It is never shown back to anyone.

CREATE TABLE tenant_sso (
    tenant_id          uuid        PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    enabled            boolean     NOT NULL DEFAULT false,
    protocol           text        NOT NULL DEFAULT 'oidc' CHECK (protocol IN ('oidc', 'saml')),
    oidc_issuer        text,
    oidc_client_id     text,
    oidc_client_secret bytea,
    saml_idp_entity_id text,
    saml_sso_url       text,
    -- The IdP's signing certificate (PEM or its base64 body): assertions must verify with it.
    saml_x509_cert     text,
    -- Only addresses in these domains (lower case, no '@') may sign in through the IdP.
    allowed_domains    text[]      NOT NULL DEFAULT '{}',
    -- The role of a user created on first sign-in, when no group of theirs is mapped.
    default_role       text        NOT NULL DEFAULT 'member'
                                   CHECK (default_role IN ('owner', 'admin', 'member', 'viewer')),
    -- {"IdP group name": "role"}; applied at every sign-in when any group matches.
    group_roles        jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(group_roles) = 'object'),
    -- The id_token claim or SAML attribute that lists the user's groups.
    groups_claim       text        NOT NULL DEFAULT 'groups' CHECK (groups_claim <> ''),
    -- Just-in-time provisioning: create an account on first sign-in instead of refusing.
    jit                boolean     NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- Switched on only when complete: the sign-in path can rely on these being set.
    CHECK (NOT enabled OR cardinality(allowed_domains) > 0),
    CHECK (NOT enabled OR protocol <> 'oidc' OR (oidc_issuer IS NOT NULL
           AND oidc_client_id IS NOT NULL AND oidc_client_secret IS NOT NULL)),
    CHECK (NOT enabled OR protocol <> 'saml' OR (saml_idp_entity_id IS NOT NULL
           AND saml_sso_url IS NOT NULL AND saml_x509_cert IS NOT NULL))
);

-- "Which tenant signs in people of this domain", for the sign-in page's email box.
CREATE INDEX tenant_sso_allowed_domains_idx ON tenant_sso USING gin (allowed_domains)
    WHERE enabled;

-- SAML requests in flight. The identity provider posts its answer from another site, where
-- the browser sends no SameSite cookie, so the verified identity waits here under the
-- request's id until the browser, back on the console, presents the cookie naming it.
-- Each request is answered once and taken once: a replayed response finds nothing to fill.
CREATE TABLE sso_saml_requests (
    request_id text        PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    identity   jsonb,
    expires_at timestamptz NOT NULL
);

CREATE INDEX sso_saml_requests_expires_at_idx ON sso_saml_requests (expires_at);
