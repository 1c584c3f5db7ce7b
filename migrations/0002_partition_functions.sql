-- 0002 Daily range partitions on a single timestamptz column.
--
-- Partitions are named <parent>_pYYYYMMDD and cover [day 00:00 UTC, day+1 00:00 UTC),
-- whatever the session TimeZone. A partition is created as a standalone table and then
-- ATTACHed: ATTACH takes only SHARE UPDATE EXCLUSIVE on the parent, so ingest (INSERT /
-- COPY, ROW EXCLUSIVE) keeps running, whereas CREATE TABLE ... PARTITION OF would take
-- ACCESS EXCLUSIVE on the parent.
--
-- DEFAULT partition: if it holds rows for the new day, they are moved into the new
-- partition in the same transaction (DELETE ... RETURNING -> INSERT), then the partition
-- is attached. The default partition is locked ACCESS EXCLUSIVE for the duration (ATTACH
-- needs that lock anyway, to re-validate the default); only inserts routed to the default
-- wait. A NOTICE reports how many rows moved.

CREATE OR REPLACE FUNCTION daily_partition_name(parent regclass, day date)
RETURNS text
LANGUAGE sql STABLE STRICT
AS $$
    SELECT c.relname || '_p' || to_char(day, 'YYYYMMDD') FROM pg_class c WHERE c.oid = parent
$$;

CREATE OR REPLACE FUNCTION create_daily_partition(parent regclass, day date)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_nsp      text;
    v_key      text;
    v_name     text;
    v_lo       timestamptz := day::timestamp AT TIME ZONE 'UTC';
    v_hi       timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
    v_default  oid;
    v_existing oid;
    v_cols     text;
    v_moved    bigint;
BEGIN
    IF parent IS NULL OR day IS NULL THEN
        RAISE EXCEPTION 'create_daily_partition: parent and day are required';
    END IF;

    SELECT n.nspname, a.attname, pt.partdefid
      INTO v_nsp, v_key, v_default
      FROM pg_partitioned_table pt
      JOIN pg_class c      ON c.oid = pt.partrelid
      JOIN pg_namespace n  ON n.oid = c.relnamespace
      JOIN pg_attribute a  ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
     WHERE pt.partrelid = parent
       AND pt.partstrat = 'r'
       AND pt.partnatts = 1
       AND a.atttypid = 'timestamptz'::regtype;
    IF v_key IS NULL THEN
        RAISE EXCEPTION '% is not range-partitioned on a single timestamptz column', parent;
    END IF;
    IF v_default = 0 THEN
        v_default := NULL;
    END IF;

    v_name := daily_partition_name(parent, day);
    IF octet_length(v_name) > 63 THEN
        RAISE EXCEPTION 'partition name % exceeds 63 bytes', v_name;
    END IF;

    -- SHARE UPDATE EXCLUSIVE conflicts with itself: concurrent creators serialise here,
    -- while INSERT/SELECT on the parent proceed. ONLY: do not recurse into partitions.
    EXECUTE format('LOCK TABLE ONLY %s IN SHARE UPDATE EXCLUSIVE MODE', parent);

    SELECT c.oid INTO v_existing
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = v_nsp AND c.relname = v_name;
    IF v_existing IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = v_existing AND inhparent = parent) THEN
            RAISE EXCEPTION 'relation %.% exists but is not a partition of %', v_nsp, v_name, parent;
        END IF;
        RETURN v_name;                               -- idempotent
    END IF;

    EXECUTE format(
        'CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)',
        v_nsp, v_name, parent);

    IF v_default IS NOT NULL THEN
        -- Take the lock ATTACH will need now, so no row for this day can slip into the
        -- default between the move and the attach.
        EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', v_default::regclass);

        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO v_cols
          FROM pg_attribute
         WHERE attrelid = parent AND attnum > 0 AND NOT attisdropped;

        EXECUTE format(
            'WITH moved AS (DELETE FROM %s WHERE %I >= $1 AND %I < $2 RETURNING %s) '
            'INSERT INTO %I.%I (%s) SELECT %s FROM moved',
            v_default::regclass, v_key, v_key, v_cols, v_nsp, v_name, v_cols, v_cols)
        USING v_lo, v_hi;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        IF v_moved > 0 THEN
            RAISE NOTICE 'create_daily_partition: moved % row(s) of % from % into %',
                v_moved, day, v_default::regclass, v_name;
        END IF;
    END IF;

    -- Bounds as literals with an explicit +00 offset: independent of TimeZone/DateStyle.
    -- ATTACH builds the parent's indexes (incl. the primary key) on the new partition.
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
        parent, v_nsp, v_name,
        to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
        to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');

    RETURN v_name;
END
$$;

-- Creates the missing partitions for every day in [from_day, to_day]; returns how many.
CREATE OR REPLACE FUNCTION ensure_daily_partitions(parent regclass, from_day date, to_day date)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_day     date;
    v_created integer := 0;
BEGIN
    IF parent IS NULL OR from_day IS NULL OR to_day IS NULL THEN
        RAISE EXCEPTION 'ensure_daily_partitions: parent, from_day and to_day are required';
    END IF;
    IF to_day - from_day > 1000 THEN
        RAISE EXCEPTION 'ensure_daily_partitions: refusing to create % partitions', to_day - from_day + 1;
    END IF;
    -- Same lock create_daily_partition takes; held to commit, so the existence test below
    -- cannot race with another creator and the count is exact.
    EXECUTE format('LOCK TABLE ONLY %s IN SHARE UPDATE EXCLUSIVE MODE', parent);
    v_day := from_day;
    WHILE v_day <= to_day LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = parent AND c.relname = daily_partition_name(parent, v_day)
        ) THEN
            PERFORM create_daily_partition(parent, v_day);
            v_created := v_created + 1;
        END IF;
        v_day := v_day + 1;
    END LOOP;
    RETURN v_created;
END
$$;

-- Daily partitions of parent (the DEFAULT partition and any other child whose name does
-- not follow <parent>_pYYYYMMDD are not listed). The day is derived from the name.
CREATE OR REPLACE FUNCTION list_daily_partitions(parent regclass)
RETURNS TABLE (day date, name text)
LANGUAGE sql STABLE
AS $$
    SELECT to_date(right(c.relname, 8), 'YYYYMMDD') AS day, c.relname::text AS name
      FROM pg_inherits i
      JOIN pg_class c  ON c.oid = i.inhrelid
      JOIN pg_class p  ON p.oid = i.inhparent
     WHERE i.inhparent = parent
       AND length(c.relname) = length(p.relname) + 10
       AND left(c.relname, length(p.relname) + 2) = p.relname || '_p'
       AND right(c.relname, 8) ~ '^[0-9]{8}$'
     ORDER BY 1
$$;

-- Drops the daily partition of parent for day; false if there is none.
-- DROP takes ACCESS EXCLUSIVE on the parent (briefly blocks ingest): callers should
-- SET LOCAL lock_timeout so a long-running reader cannot stall the ingest queue behind it.
CREATE OR REPLACE FUNCTION drop_daily_partition(parent regclass, day date)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v_part regclass;
BEGIN
    IF parent IS NULL OR day IS NULL THEN
        RAISE EXCEPTION 'drop_daily_partition: parent and day are required';
    END IF;
    SELECT c.oid::regclass INTO v_part
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent AND c.relname = daily_partition_name(parent, day);
    IF v_part IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TABLE %s', v_part);
    RETURN true;
END
$$;
