-- 0035 The amount index of 0034, only for statements that bound the amount.
--
-- A plain (gateway_id, amount) index also serves `gateway_id = $1` alone, and being the
-- smallest index that leads with the gateway, the planner started to use it for other queries:
-- payments?agent_id of the largest vendor became a BitmapAnd of the agent's entries with every
-- entry of each gateway (173k per gateway, 9.4k blocks read: 62 ms → 766 ms). `amount IS NOT NULL`
-- holds for every row (the column is NOT NULL), but PostgreSQL 15 proves a partial index's
-- predicate only from the statement's own clauses: a strict amount comparison
-- (`amount >= $1`, `amount <= $2` of min_amount / max_amount) implies it, nothing else does.
DROP INDEX IF EXISTS payment_authorized_gateway_amount_idx;
CREATE INDEX IF NOT EXISTS payment_authorized_gateway_amount_idx
    ON payment_authorized (gateway_id, amount) INCLUDE (event_time, seq) WHERE amount IS NOT NULL;
