-- name: create
INSERT INTO api_keys (tenant_id, user_id, name, key_hash, prefix, allowed_models,
                      rpm, tpm, max_parallel, budget_usd, budget_period, tags, expires_at,
                      pinned_tags)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING *;

-- name: auth_view
-- The one query of the request path, and only on a cache miss.
SELECT k.id, k.tenant_id, k.user_id, k.name, k.allowed_models, k.rpm, k.tpm, k.max_parallel,
       k.budget_usd, k.budget_period, k.tags, k.expires_at, k.revoked_at, k.pinned_tags,
       t.slug AS tenant_slug, t.status AS tenant_status, t.plan AS tenant_plan,
       t.allowed_models AS tenant_allowed_models, t.rpm AS tenant_rpm, t.tpm AS tenant_tpm,
       t.max_parallel AS tenant_max_parallel, t.budget_usd AS tenant_budget_usd,
       t.budget_period AS tenant_budget_period
FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
WHERE k.key_hash = $1;

-- name: list_in_tenant
SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3;

-- name: get_in_tenant
SELECT * FROM api_keys WHERE tenant_id = $1 AND id = $2;

-- name: find_by_prefix
SELECT * FROM api_keys WHERE prefix LIKE $1 || '%' ORDER BY created_at DESC LIMIT 2;

-- name: revoke_in_tenant
UPDATE api_keys SET revoked_at = now(), updated_at = now()
WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL
RETURNING *;

-- name: hashes_in_tenant
SELECT key_hash FROM api_keys WHERE tenant_id = $1;

-- name: touch
UPDATE api_keys SET last_used_at = u.at
FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
WHERE api_keys.id = u.id AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < u.at);

-- name: find_by_id
-- Platform-wide, for the CLI (which acts as the platform administrator).
SELECT * FROM api_keys WHERE id = $1;
