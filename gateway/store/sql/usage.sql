-- name: create_staging
-- `usage` as the writer sends it: `at` in epoch seconds and `cost_usd` as exact text, which
-- COPY encodes at a fraction of the cost of a timestamp and a numeric. Columns in `usage`'s
-- order (and `UsageRecord`'s).
CREATE TEMP TABLE IF NOT EXISTS usage_staging (
    request_id text, at double precision, tenant_id uuid, key_id uuid, user_id uuid,
    requested_model text, model text, provider text, deployment text, variant text,
    prompt_tokens integer, completion_tokens integer, cached_tokens integer,
    token_source text, cost_usd text, ttfb_ms real, latency_ms real, status smallint,
    cache_hit boolean, attempts smallint, tags jsonb
) ON COMMIT DELETE ROWS;

-- name: merge_staging
-- Only rows not seen before are inserted and counted in the rollups: replaying a batch that
-- was already written changes nothing.
WITH inserted AS (
    INSERT INTO usage
    SELECT request_id, to_timestamp(at), tenant_id, key_id, user_id, requested_model, model,
           provider, deployment, variant, prompt_tokens, completion_tokens, cached_tokens,
           token_source, cost_usd::numeric, ttfb_ms, latency_ms, status, cache_hit, attempts,
           tags
    FROM usage_staging
    ON CONFLICT (request_id) DO NOTHING
    RETURNING *
), rolled AS (
    INSERT INTO usage_hourly AS h (hour, tenant_id, key_id, user_id, model, provider,
                                   deployment, variant, tags, requests, errors, cache_hits,
                                   prompt_tokens, completion_tokens, cost_usd, latency_ms_sum)
    SELECT date_trunc('hour', at),
           coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'),
           coalesce(key_id, '00000000-0000-0000-0000-000000000000'),
           coalesce(user_id, '00000000-0000-0000-0000-000000000000'),
           coalesce(model, ''), coalesce(provider, ''), coalesce(deployment, ''),
           coalesce(variant, ''), tags,
           count(*), count(*) FILTER (WHERE status >= 400), count(*) FILTER (WHERE cache_hit),
           sum(prompt_tokens), sum(completion_tokens), sum(cost_usd), sum(latency_ms)
    FROM inserted
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ON CONFLICT (hour, tenant_id, key_id, user_id, model, provider, deployment, variant, tags)
    DO UPDATE SET requests = h.requests + EXCLUDED.requests,
                  errors = h.errors + EXCLUDED.errors,
                  cache_hits = h.cache_hits + EXCLUDED.cache_hits,
                  prompt_tokens = h.prompt_tokens + EXCLUDED.prompt_tokens,
                  completion_tokens = h.completion_tokens + EXCLUDED.completion_tokens,
                  cost_usd = h.cost_usd + EXCLUDED.cost_usd,
                  latency_ms_sum = h.latency_ms_sum + EXCLUDED.latency_ms_sum
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) AS inserted;

-- name: report
-- One query for every grouping: $3 names the dimension, $4 the tag key for 'tag'.
-- $1 NULL means every tenant (platform administrators).
SELECT CASE $3
         WHEN 'hour' THEN to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00"Z"')
         WHEN 'day' THEN to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD')
         WHEN 'model' THEN model
         WHEN 'provider' THEN provider
         WHEN 'deployment' THEN deployment
         WHEN 'key' THEN key_id::text
         WHEN 'user' THEN user_id::text
         WHEN 'variant' THEN variant
         WHEN 'tag' THEN coalesce(tags ->> $4, '')
       END AS bucket,
       sum(requests)::bigint AS requests,
       sum(errors)::bigint AS errors,
       sum(cache_hits)::bigint AS cache_hits,
       sum(prompt_tokens)::bigint AS prompt_tokens,
       sum(completion_tokens)::bigint AS completion_tokens,
       sum(cost_usd) AS cost_usd,
       sum(latency_ms_sum) / nullif(sum(requests), 0) AS mean_latency_ms
FROM usage_hourly
WHERE ($1::uuid IS NULL OR tenant_id = $1) AND hour >= date_trunc('hour', $2::timestamptz)
  AND hour < $5::timestamptz
GROUP BY 1
ORDER BY 1;

-- name: latency_percentiles_in_tenant
-- Percentiles need each request's latency, so they read the raw rows, through the
-- (tenant_id, at) index.
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms
FROM usage
WHERE tenant_id = $1 AND at >= $2 AND at < $3;

-- name: latency_percentiles_everywhere
-- The whole platform's, through the (at) index.
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms
FROM usage
WHERE at >= $1 AND at < $2;

-- name: key_names
-- Names for the key ids of a report. $1 NULL: any tenant's keys (platform administrators).
SELECT id, name FROM api_keys
WHERE id = ANY($2::uuid[]) AND ($1::uuid IS NULL OR tenant_id = $1);

-- name: member_emails
-- Emails for the user ids of a report, of the tenant's members only. $1 NULL: any user.
SELECT u.id, u.email FROM users u
WHERE u.id = ANY($2::uuid[])
  AND ($1::uuid IS NULL
       OR EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = $1 AND m.user_id = u.id));
