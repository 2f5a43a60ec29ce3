"""Rate limits, concurrency, budgets and plan quotas: one check-and-charge per request."""
