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
 * - `unreachable`: the connection failed or the server is going away — nothing is wrong with the
 *   data; retried with backoff for as long as it takes.
 * - `transient`: the server could not do it now (serialization failure, deadlock, lock or
 *   resource shortage) — retried a few times, then treated as `permanent`.
 * - `permanent`: the server refused the statement (bad value, index row too large, constraint,
 *   a defect in our code) — retrying the same batch cannot help, so the batch is split until the
 *   offending events are alone and those are dead-lettered.
 */
export type StoreErrorKind = "unreachable" | "transient" | "permanent"

/** The database refused or could not be reached. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly message: string
  readonly cause?: unknown
  /** Defaults to `unreachable` (retried). */
  readonly kind?: StoreErrorKind
  /** SQLSTATE, when the server answered. */
  readonly code?: string
}> {}

/** SQLSTATE classes (and codes) that say "try again", per PostgreSQL's appendix A. */
const UNREACHABLE_CLASSES = ["08", "57"]
const TRANSIENT_CLASSES = ["40", "53", "55", "58", "XX"]

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

/** Classifies a node-postgres error (or any thrown value) into a `StoreError`. */
export const storeErrorOf = (cause: unknown, what = "database write failed"): StoreError => {
  const code = sqlStateOf(cause)
  const message = `${what}: ${cause instanceof Error ? cause.message : String(cause)}`
  // No SQLSTATE: a socket error (ECONNREFUSED, ECONNRESET, EPIPE, timeout) — the server was not reached.
  if (code === undefined) return new StoreError({ message, cause, kind: "unreachable" })
  const klass = code.slice(0, 2)
  // 57014 is a statement cancelled (by statement_timeout or by us), not the server going away.
  const kind: StoreErrorKind = UNREACHABLE_CLASSES.includes(klass) && code !== "57014"
    ? "unreachable"
    : TRANSIENT_CLASSES.includes(klass) || code === "57014"
    ? "transient"
    : "permanent"
  return new StoreError({ message, cause, kind, code })
}

/**
 * Bounds one store call: still running after `timeout` (its connection hung without an error),
 * it fails as `unreachable`, to be retried. The call is interrupted in the background, since its
 * clean-up (a cancel request, a rollback) may hang on the same connection; the pool then drops
 * that connection (src/db/Database.ts). `interruptible`: a caller's region may not be.
 */
export const abandonAfter = (timeout: Duration.Duration) => <A>(call: Effect.Effect<A, StoreError>): Effect.Effect<A, StoreError> =>
  Effect.interruptible(Effect.disconnect(call)).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new StoreError({ message: `the write did not finish within ${Duration.format(timeout)}; abandoned`, kind: "unreachable" })
    })
  )

/** What `/health` may say about a store error: its class, never the server's text. */
export const describeStoreError = (error: StoreError): string =>
  error.kind === "permanent"
    ? `the database refused events${error.code === undefined ? "" : ` (SQLSTATE ${error.code})`}`
    : error.kind === "transient"
    ? `the database could not take writes for now${error.code === undefined ? "" : ` (SQLSTATE ${error.code})`}`
    : `the database is unreachable${error.code === undefined ? "" : ` (SQLSTATE ${error.code})`}`

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
