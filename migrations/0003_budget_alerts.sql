-- Budget and quota alerts: each threshold of each bucket's period fires once, whichever
-- gateway process sees it first (the primary key decides), and a tenant may receive them
-- by webhook.

CREATE TABLE budget_alerts (
    bucket     text        NOT NULL,
    window_id  bigint      NOT NULL,
    threshold  smallint    NOT NULL CHECK (threshold IN (50, 80, 100)),
    tenant_id  uuid        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, window_id, threshold)
);

ALTER TABLE tenants ADD COLUMN alert_webhook_url text
    CHECK (alert_webhook_url IS NULL OR alert_webhook_url ~ '^https?://');
-- The HMAC key for webhook signatures, generated when a URL is set; shown once.
ALTER TABLE tenants ADD COLUMN alert_webhook_secret text;
