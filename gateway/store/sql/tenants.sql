-- name: create
INSERT INTO tenants (slug, name, plan, allowed_models)
VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: get
SELECT * FROM tenants WHERE id = $1;

-- name: get_by_slug
SELECT * FROM tenants WHERE slug = $1;

-- name: list
SELECT * FROM tenants ORDER BY slug LIMIT $1 OFFSET $2;

-- name: list_for_user
SELECT t.* FROM tenants t JOIN memberships m ON m.tenant_id = t.id
WHERE m.user_id = $1 ORDER BY t.slug LIMIT $2 OFFSET $3;

-- name: set_status
UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: update
UPDATE tenants
SET name = $2, plan = $3, allowed_models = $4, rpm = $5, tpm = $6, max_parallel = $7,
    budget_usd = $8, budget_period = $9, updated_at = now()
WHERE id = $1 RETURNING *;
