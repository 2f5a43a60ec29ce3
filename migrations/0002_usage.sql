-- Usage: one row per client request, and hourly rollups for fast reports.
--
-- request_id is the primary key, so writing a record twice (a journal replayed after a
-- crash between the write and its acknowledgement) is a no-op, never a double count.

CREATE TABLE usage (
    request_id        text          PRIMARY KEY,
    at                timestamptz   NOT NULL,
    tenant_id         uuid,
    key_id            uuid,
    user_id           uuid,
    requested_model   text,
    model             text,
    provider          text,
    deployment        text,
    variant           text,
    prompt_tokens     integer       NOT NULL DEFAULT 0,
    completion_tokens integer       NOT NULL DEFAULT 0,
    cached_tokens     integer       NOT NULL DEFAULT 0,
    -- provider: the provider's own count; tokenizer: counted by us; estimate: approximated.
    token_source      text          NOT NULL DEFAULT 'provider',
    cost_usd          numeric(20, 10) NOT NULL DEFAULT 0,
    ttfb_ms           real,
    latency_ms        real          NOT NULL,
    status            smallint      NOT NULL,
    cache_hit         boolean       NOT NULL DEFAULT false,
    attempts          smallint      NOT NULL DEFAULT 0,
    tags              jsonb         NOT NULL DEFAULT '{}'
);

CREATE INDEX usage_tenant_at_idx ON usage (tenant_id, at);
CREATE INDEX usage_at_idx ON usage (at);

-- Maintained by the writer in the same transaction as the rows it summarises.
CREATE TABLE usage_hourly (
    hour              timestamptz   NOT NULL,
    tenant_id         uuid          NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    key_id            uuid          NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    user_id           uuid          NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    model             text          NOT NULL DEFAULT '',
    provider          text          NOT NULL DEFAULT '',
    deployment        text          NOT NULL DEFAULT '',
    variant           text          NOT NULL DEFAULT '',
    tags              jsonb         NOT NULL DEFAULT '{}',
    requests          bigint        NOT NULL DEFAULT 0,
    errors            bigint        NOT NULL DEFAULT 0,
    cache_hits        bigint        NOT NULL DEFAULT 0,
    prompt_tokens     bigint        NOT NULL DEFAULT 0,
    completion_tokens bigint        NOT NULL DEFAULT 0,
    cost_usd          numeric(24, 10) NOT NULL DEFAULT 0,
    latency_ms_sum    double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, tenant_id, key_id, user_id, model, provider, deployment, variant, tags)
);

CREATE INDEX usage_hourly_tenant_hour_idx ON usage_hourly (tenant_id, hour);
