-- name: record
INSERT INTO audit_log (tenant_id, actor_type, actor_id, actor_label, source_ip, action,
                       target_type, target_id, changes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: list
-- Every filter is optional: NULL means "any". $1 NULL lists every tenant (platform admins).
SELECT * FROM audit_log
WHERE ($1::uuid IS NULL OR tenant_id = $1)
  AND ($2::text IS NULL OR actor_id = $2 OR actor_label = $2)
  AND ($3::text IS NULL OR action = $3)
  AND ($4::text IS NULL OR target_id = $4)
  AND ($5::timestamptz IS NULL OR at >= $5)
  AND ($6::timestamptz IS NULL OR at < $6)
ORDER BY at DESC, id DESC
LIMIT $7 OFFSET $8;
