-- 0020 Console read helpers.
-- rfc3339_utc: a timestamptz as RFC 3339 in UTC, whatever the session TimeZone/DateStyle:
-- "2025-06-01T12:00:00Z", with the fraction (to the microsecond, trailing zeros trimmed) only
-- when it is not zero. Microseconds are kept so a keyset cursor built from it is exact.
-- Not STRICT, so the planner can inline it (NULL in gives NULL out anyway).

CREATE OR REPLACE FUNCTION rfc3339_utc(t timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_part('microseconds', t AT TIME ZONE 'UTC')::int % 1000000 = 0 THEN ''
                ELSE rtrim(to_char(t AT TIME ZONE 'UTC', '.US'), '0') END
        || 'Z'
$$;
