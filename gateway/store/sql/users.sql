-- name: create
INSERT INTO users (email, password_hash, is_platform_admin)
VALUES ($1, $2, $3)
RETURNING *;

-- name: get
SELECT * FROM users WHERE id = $1;

-- name: get_by_email
SELECT * FROM users WHERE lower(email) = lower($1);

-- name: list
SELECT * FROM users ORDER BY lower(email) LIMIT $1 OFFSET $2;

-- name: emails_of
SELECT id, email FROM users WHERE id = ANY($1::uuid[]);

-- name: list_in_tenant
SELECT u.*, m.role FROM users u JOIN memberships m ON m.user_id = u.id
WHERE m.tenant_id = $1 ORDER BY lower(u.email) LIMIT $2 OFFSET $3;

-- name: set_password
UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1;

-- name: put_membership
INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role
RETURNING (xmax = 0) AS created;

-- name: remove_membership
DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2 RETURNING role;

-- name: role_in
SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2;

-- name: memberships_of
SELECT m.tenant_id, t.slug, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id
WHERE m.user_id = $1 ORDER BY t.slug;

-- name: totp_secret
SELECT totp_secret FROM users WHERE id = $1;

-- name: set_totp_secret
UPDATE users SET totp_secret = $2, totp_last_step = NULL, updated_at = now() WHERE id = $1;

-- name: use_totp_step
-- Atomic, so two requests racing with the same code cannot both succeed.
UPDATE users SET totp_last_step = $2
WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)
RETURNING id;
