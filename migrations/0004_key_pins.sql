-- Data residency per key: a key only reaches deployments carrying all of these tags
-- (on top of any pins its tenant has in routing.yaml).
ALTER TABLE api_keys ADD COLUMN pinned_tags jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(pinned_tags) = 'object');
