/**
 * The port the pipeline writes through. `EventStorePg` is the real one; `EventStoreInMemory`
 * (beside it) backs the unit tests of routing, outcomes, deduplication and the intent machine.
 */
import { Context, Data, Duration, Effect } from "effect"
import type { IngestEvent, Route } from "./IngestEvent.js"

/** Keys (see `eventKey`) of the events this write stored; the others were duplicates. */
export interface WriteResult {
  readonly inserted: ReadonlySet<string>
}

export interface DeadLetter {
  readonly receivedAt: number
  readonly gatewayId: string | undefined
  readonly source: string | undefined
  readonly eventId: string | undefined
  readonly type: string | undefined
  readonly reason: string
  readonly field: string | undefined
  /** The offending input as text, already truncated to the configured bound. */
  readonly payload: string
  readonly payloadBytes: number
}

export interface GatewaySeen {
  readonly lastSeenAt: number
  readonly version: string | undefined
}

/**
 * How a failed write is handled:
 * - `unavailable`: the database cannot take writes now — the connection failed, the server is
 *   going away or not accepting connections, it is out of connections or disk, a lock is taken,
 *   two transactions conflicted. Nothing is wrong with the data: retried with backoff for as
 *   long as it takes (the events wait in the journal), never split or dead-lettered. Before
 *   2026-12-08 these were retried five times (under a second) and then dead-lettered: a
 *   PostgreSQL at `max_connections` for a second lost acknowledged events.
 * - `transient`: a failure a smaller batch may avoid (out of memory, a statement cancelled by
 *   `statement_timeout`, an internal error) — retried a few times, then treated as `permanent`.
 * - `permanent`: the server refused the statement (bad value, index row too large, constraint,
 *   a defect in our code) — retrying the same batch cannot help, so the batch is split until the
 *   offending events are alone and those are dead-lettered.
 */
export type StoreErrorKind = "unavailable" | "transient" | "permanent"

/** The database refused or could not be reached. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly message: string
  readonly cause?: unknown
  /** Defaults to `unavailable` (retried). */
  readonly kind?: StoreErrorKind
  /** SQLSTATE, when the server answered. */
  readonly code?: string
}> {}

/**
 * SQLSTATE classes that say "the database, not the data" (PostgreSQL's appendix A): connection
 * (08), transaction rollback (40: serialization, deadlock), insufficient resources (53),
 * object not in prerequisite state (55: not accepting connections, lock not available),
 * operator intervention (57: shutdown, cannot connect now), system error (58: I/O).
 */
const UNAVAILABLE_CLASSES = ["08", "40", "53", "55", "57", "58"]
/** A read-only server (a failover to a standby, a disk-full guard): writes are refused, not the data. */
const UNAVAILABLE_CODES = ["25006"]
/**
 * Failures a smaller statement may avoid: out of memory, a configured limit (`temp_file_limit`,
 * 53400), a statement timeout; internal errors (XX) too.
 */
const TRANSIENT_CODES = ["53200", "53400", "57014"]
const TRANSIENT_CLASSES = ["XX"]

/**
 * The SQLSTATE of an error the server sent, if it is one. A Node system error has a `code` too
 * (`EPIPE` even has five capitals, like a SQLSTATE) but also `errno`/`syscall`: the socket broke,
 * the server said nothing — never a refusal of the data.
 */
const sqlStateOf = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null || !("code" in cause) || typeof cause.code !== "string") return undefined
  if ("errno" in cause || "syscall" in cause) return undefined
  return /^[0-9A-Z]{5}$/.test(cause.code) ? cause.code : undefined
}

/**
 * A transient failure that one event alone cannot have caused — out of memory, a configured
 * limit, a statement timeout (a lock someone else holds, under `statement_timeout`) — so a
 * batch is split on it but a single event waits for it to pass instead of being dead-lettered.
 * An outside probe lost acknowledged payments to a 16 s table lock under a 2 s statement_timeout.
 * An internal error (XX) may be the data's doing: alone, it is refused.
 */
export const waitsWhenAlone = (error: StoreError): boolean =>
  error.kind === "transient" && error.code !== undefined && !error.code.startsWith("XX")

/** Classifies a node-postgres error (or any thrown value) into a `StoreError`. */
export const storeErrorOf = (cause: unknown, what = "database write failed"): StoreError => {
  const code = sqlStateOf(cause)
  const message = `${what}: ${cause instanceof Error ? cause.message : String(cause)}`
  // No SQLSTATE: a socket error (ECONNREFUSED, ECONNRESET, EPIPE, timeout) — the server was not reached.
  if (code === undefined) return new StoreError({ message, cause, kind: "unavailable" })
  const klass = code.slice(0, 2)
  const kind: StoreErrorKind = TRANSIENT_CODES.includes(code) || TRANSIENT_CLASSES.includes(klass)
    ? "transient"
    : UNAVAILABLE_CLASSES.includes(klass) || UNAVAILABLE_CODES.includes(code)
    ? "unavailable"
    : "permanent"
  return new StoreError({ message, cause, kind, code })
}

/**
 * Bounds one store call: still running after `timeout` (its connection hung without an error),
 * it fails as `unavailable`, to be retried. The call is interrupted in the background, since its
 * clean-up (a cancel request, a rollback) may hang on the same connection; the pool then drops
 * that connection (src/db/Database.ts). `interruptible`: a caller's region may not be.
 */
export const abandonAfter = (timeout: Duration.Duration) => <A>(call: Effect.Effect<A, StoreError>): Effect.Effect<A, StoreError> =>
  Effect.interruptible(Effect.disconnect(call)).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new StoreError({ message: `the write did not finish within ${Duration.format(timeout)}; abandoned`, kind: "unavailable" })
    })
  )

/** What `/health` may say about a store error: its class, never the server's text. */
export const describeStoreError = (error: StoreError): string =>
  error.kind === "permanent"
    ? `the database refused events${error.code === undefined ? "" : ` (SQLSTATE ${error.code})`}`
    : error.kind === "transient"
    ? `the database could not take writes for now${error.code === undefined ? "" : ` (SQLSTATE ${error.code})`}`
    : `the database is unavailable${error.code === undefined ? "" : ` (SQLSTATE ${error.code})`}`

export class EventStore extends Context.Tag("Ingest/EventStore")<EventStore, {
  /** Writes one route's batch — typed rows and raw log — atomically; duplicates are skipped. */
  /** `rows`, when given, are the events' rows already encoded (same order), so they are not encoded again. */
  readonly write: (
    route: Route,
    events: ReadonlyArray<IngestEvent>,
    rows?: ReadonlyArray<Uint8Array>
  ) => Effect.Effect<WriteResult, StoreError>
  readonly deadLetter: (rows: ReadonlyArray<DeadLetter>) => Effect.Effect<void, StoreError>
  /** Last-seen time (and software version) per gateway, coalesced by the caller. */
  readonly touchGateways: (seen: ReadonlyMap<string, GatewaySeen>) => Effect.Effect<void, StoreError>
}>() {}
