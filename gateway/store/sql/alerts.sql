-- name: claim
-- True for the one process that records this threshold first.
INSERT INTO budget_alerts (bucket, window_id, threshold, tenant_id) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING true;

-- name: webhook
SELECT alert_webhook_url, alert_webhook_secret FROM tenants WHERE id = $1;

-- name: set_webhook
UPDATE tenants SET alert_webhook_url = $2, alert_webhook_secret = $3, updated_at = now()
WHERE id = $1;
