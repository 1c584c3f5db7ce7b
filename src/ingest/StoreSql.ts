/**
 * What the PostgreSQL store's statements share: the batch parameter (the events' rows as one
 * jsonb array, read back with `jsonb_to_recordset`), the raw-log insert, and how a query's failure
 * becomes a classified `StoreError`.
 */
import type { SqlClient, SqlError } from "@effect/sql"
import { Effect } from "effect"
import { storeErrorOf } from "./EventStore.js"
import type { IngestEvent } from "./IngestEvent.js"
import { encodedRow, eventKey } from "./IngestEvent.js"

export const RAW_COLUMNS = `event_time timestamptz, source text, id text, type text, gateway_id text, subject text,
  received_at timestamptz, attributes jsonb, data jsonb`

export const RAW_INSERT = `INSERT INTO telemetry_events (event_time, source, id, type, gateway_id, subject, received_at, attributes, data)
    SELECT i.event_time, i.source, i.id, i.type, i.gateway_id, i.subject, i.received_at, i.attributes, i.data FROM input i`

/** jsonb's binary format version (1), then `[`. */
const JSONB_ARRAY_OPEN = Buffer.from([1, 0x5b])
const COMMA = Buffer.from(",")
const ARRAY_CLOSE = Buffer.from("]")

/**
 * The batch parameter: the events' rows (encoded at admission when given) as one JSON array,
 * as bytes in jsonb's binary format (a version byte, 1, then the text); a `Buffer` parameter is
 * sent as is. It was a joined string: at 500 rows a string that large is allocated straight in
 * V8's old generation, and the client copied it once more to measure it, together about 1.3 KB
 * of garbage per event at 10,000 events/s.
 */
export const rowsOf = (events: ReadonlyArray<IngestEvent>, rows?: ReadonlyArray<Uint8Array>): Buffer => {
  const parts: Array<Uint8Array> = [JSONB_ARRAY_OPEN]
  for (const row of rows ?? events.map((event) => Buffer.from(encodedRow(event)))) {
    if (parts.length > 1) parts.push(COMMA)
    parts.push(row)
  }
  parts.push(ARRAY_CLOSE)
  return Buffer.concat(parts)
}

/** The database's own error (SQLSTATE, socket error) decides the class, not the client's wrapper. */
const storeFailure = (error: SqlError.SqlError) => storeErrorOf(error.cause)

export const query = <R extends object>(sql: SqlClient.SqlClient, text: string, values: ReadonlyArray<unknown>) =>
  sql.unsafe<R>(text, values).pipe(Effect.mapError(storeFailure))

export const keysOf = (rows: ReadonlyArray<{ source: string; id: string }>) => new Set(rows.map(eventKey))
