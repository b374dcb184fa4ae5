-- Backend CPU sampler (drop data): the sampler's usage rows, then its catalogue rows.
DELETE FROM tenant_usage_hourly WHERE source = 'backend_sampler';
DELETE FROM telemetry_metrics WHERE source = 'backend_sampler';
