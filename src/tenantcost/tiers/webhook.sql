-- name: tier_decisions_delivery
-- Outcome of the webhook's outbox event for one decision: queued, delivered, retrying: …, failed: …
UPDATE tier_decisions SET delivery = %(delivery)s WHERE id = %(id)s;

-- name: tier_alerts_delivery
UPDATE tier_alerts SET delivery = %(delivery)s WHERE id = %(id)s;
