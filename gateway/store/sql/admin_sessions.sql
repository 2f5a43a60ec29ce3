-- name: create
INSERT INTO admin_sessions (token_hash, user_id, method, second_factor_pending, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(mins => $5));

-- name: touch
-- Valid only before its absolute expiry and while it has not been idle too long; a valid
-- session's idle clock restarts. Expired rows are left for `delete_expired`.
UPDATE admin_sessions SET last_seen_at = now()
WHERE token_hash = $1 AND expires_at > now()
  AND last_seen_at > now() - make_interval(mins => $2)
RETURNING user_id, method, second_factor_pending;

-- name: complete_second_factor
UPDATE admin_sessions SET second_factor_pending = false WHERE token_hash = $1;

-- name: delete
DELETE FROM admin_sessions WHERE token_hash = $1;

-- name: delete_for_user
DELETE FROM admin_sessions WHERE user_id = $1;

-- name: delete_expired
DELETE FROM admin_sessions
WHERE expires_at <= now() OR last_seen_at <= now() - make_interval(mins => $1);

-- name: set_flash
UPDATE admin_sessions SET flash = $2 WHERE token_hash = $1;

-- name: take_flash
UPDATE admin_sessions s SET flash = NULL
FROM (SELECT token_hash, flash FROM admin_sessions WHERE token_hash = $1 FOR UPDATE) old
WHERE s.token_hash = old.token_hash
RETURNING old.flash;
