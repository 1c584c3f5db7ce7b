-- 0034 Console: payments filtered by amount, and an agent's spending, without heap visits.
--
-- 1. GET /v1/vendor/payments?min_amount / max_amount: the newest matching payments of a
--    gateway. Walking the (gateway, time) index and filtering costs every payment of the range
--    when few match (the largest vendor's biggest gateway: 265k entries for 0 matches). The
--    list query walks at most a bounded number of the newest entries that way, and finds
--    older matches through this index (src/console/ListsRepo.ts).
CREATE INDEX IF NOT EXISTS payment_authorized_gateway_amount_idx
    ON payment_authorized (gateway_id, amount) INCLUDE (event_time, seq);

-- 2. GET /v1/agent/spending groups an agent's payments by gateway, asset (and method, route
--    for group_by=endpoint): with 0004's index (INCLUDE gateway_id, amount) every payment
--    was a heap visit (the most active agent: 16k payments, 6.9k heap blocks, read from disk
--    at random). Same key, more INCLUDE columns: index-only. Activity and payments?agent_id
--    walk the same key as before.
CREATE INDEX IF NOT EXISTS payment_authorized_agent_time_spend_idx
    ON payment_authorized (agent_id, event_time DESC, seq DESC) INCLUDE (gateway_id, amount, asset, method, route);

DROP INDEX IF EXISTS payment_authorized_agent_time_idx;

-- Built in the migration transaction (no CONCURRENTLY): on a large live table, build them
-- CONCURRENTLY by hand first (IF NOT EXISTS then skips them).
