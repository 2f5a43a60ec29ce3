-- name: get
-- Everything but the client secret, which is read only where it is used (`client_secret`).
SELECT tenant_id, enabled, protocol, oidc_issuer, oidc_client_id,
       oidc_client_secret IS NOT NULL AS has_client_secret,
       saml_idp_entity_id, saml_sso_url, saml_x509_cert, allowed_domains, default_role,
       group_roles, groups_claim, jit, updated_at
FROM tenant_sso WHERE tenant_id = $1;

-- name: client_secret
SELECT oidc_client_secret FROM tenant_sso WHERE tenant_id = $1;

-- name: put
-- $6 NULL keeps the stored client secret: the form's secret field is write-only. (Kept in
-- the inserted row itself, since its CHECKs are evaluated before ON CONFLICT is.)
INSERT INTO tenant_sso (tenant_id, enabled, protocol, oidc_issuer, oidc_client_id,
                        oidc_client_secret, saml_idp_entity_id, saml_sso_url, saml_x509_cert,
                        allowed_domains, default_role, group_roles, groups_claim, jit)
VALUES ($1, $2, $3, $4, $5,
        COALESCE($6, (SELECT oidc_client_secret FROM tenant_sso WHERE tenant_id = $1)),
        $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (tenant_id) DO UPDATE SET
    enabled = EXCLUDED.enabled,
    protocol = EXCLUDED.protocol,
    oidc_issuer = EXCLUDED.oidc_issuer,
    oidc_client_id = EXCLUDED.oidc_client_id,
    oidc_client_secret = EXCLUDED.oidc_client_secret,
    saml_idp_entity_id = EXCLUDED.saml_idp_entity_id,
    saml_sso_url = EXCLUDED.saml_sso_url,
    saml_x509_cert = EXCLUDED.saml_x509_cert,
    allowed_domains = EXCLUDED.allowed_domains,
    default_role = EXCLUDED.default_role,
    group_roles = EXCLUDED.group_roles,
    groups_claim = EXCLUDED.groups_claim,
    jit = EXCLUDED.jit,
    updated_at = now();

-- name: tenants_for_domain
-- Deliberately across tenants: which tenants' SSO takes addresses of this domain.
SELECT t.slug FROM tenant_sso s JOIN tenants t ON t.id = s.tenant_id
WHERE s.enabled AND s.allowed_domains @> ARRAY[$1::text]
ORDER BY t.slug;

-- name: saml_request_create
INSERT INTO sso_saml_requests (request_id, tenant_id, expires_at)
VALUES ($1, $2, now() + make_interval(mins => $3));

-- name: saml_request_tenant
SELECT tenant_id FROM sso_saml_requests
WHERE request_id = $1 AND identity IS NULL AND expires_at > now();

-- name: saml_request_answer
-- Once only: a second answer to the same request (a replayed response) changes nothing.
UPDATE sso_saml_requests SET identity = $3
WHERE request_id = $1 AND tenant_id = $2 AND identity IS NULL AND expires_at > now()
RETURNING request_id;

-- name: saml_request_take
DELETE FROM sso_saml_requests
WHERE request_id = $1 AND identity IS NOT NULL AND expires_at > now()
RETURNING tenant_id, identity;

-- name: delete_expired_saml_requests
DELETE FROM sso_saml_requests WHERE expires_at <= now();
