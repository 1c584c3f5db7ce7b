/**
 * The last gate before an event is acknowledged: everything that could make it unstorable, or
 * make a later step throw, is decided here, once, so that nothing downstream (journal, flush,
 * dead letters, replay) can be stopped by one event.
 *
 * - Nesting: `JSON.parse` accepts tens of thousands of levels, but `JSON.stringify`, recursive
 *   walks and PostgreSQL's jsonb parser (stack depth) do not. Deeper than `maxDepth` is refused.
 * - Encoding: the event's row is encoded here (see `encodedRow`) and travels with it; the same
 *   text goes to the journal and to the flush, so the flush never meets an encoding failure.
 * - Size: the encoded row is bounded in bytes.
 *
 * Depth is read off the encoded text (most events have too few brackets to need even that one
 * pass); only an event found too deep is walked (the walk
 * is iterative, an explicit stack, so the check itself cannot overflow the stack) to name the field.
 */
import { Either } from "effect"
import type { Outcome } from "./Batcher.js"
import { jsonDepth } from "../http/JsonDepth.js"
import { decodeEvent, encodedRow, eventKey, type IngestEvent } from "./IngestEvent.js"

export { jsonDepth }

export interface AdmissionLimits {
  /** Deepest nesting of objects/arrays allowed in `data` and in extension values. */
  readonly maxDepth: number
  /** Largest encoded event (its stored row), in bytes. */
  readonly maxEventBytes: number
}

export interface Refusal {
  readonly field: string
  readonly reason: string
}

/** The dotted path where `value` first nests deeper than `maxDepth`, if it does. */
export const tooDeepAt = (value: unknown, maxDepth: number, root: string): string | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const stack: Array<{ readonly value: object; readonly depth: number; readonly path: string }> = [
    { value, depth: 1, path: root }
  ]
  while (stack.length > 0) {
    const top = stack.pop()!
    if (top.depth > maxDepth) return top.path
    const entries: Array<[string, unknown]> = Array.isArray(top.value)
      ? top.value.map((v, i) => [String(i), v])
      : Object.entries(top.value)
    for (const [key, inner] of entries) {
      if (typeof inner === "object" && inner !== null) {
        stack.push({ value: inner, depth: top.depth + 1, path: `${top.path}.${key}` })
      }
    }
  }
  return undefined
}

/**
 * At least the nesting of JSON text: its count of `{` and `[` (inside strings too), found with
 * `indexOf`, which is far faster than a character loop. An event with no more brackets than the
 * limit cannot nest deeper, so most events skip the exact scan below.
 */
export const bracketCount = (text: string, atMost: number): number => {
  let count = 0
  for (const bracket of ["{", "["]) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) {
      if (++count > atMost) return count
    }
  }
  return count
}

const tooDeep = (limits: AdmissionLimits, field: string): Refusal => ({
  field,
  reason: `nests deeper than ${limits.maxDepth} levels (INGEST_MAX_NESTING_DEPTH)`
})

/** The slow path, only for an event already known to nest deeply: which field, exactly. */
const deepField = (event: IngestEvent, limits: AdmissionLimits): Refusal | undefined => {
  const deepData = tooDeepAt(event.data, limits.maxDepth, "data")
  if (deepData !== undefined) return tooDeep(limits, deepData)
  for (const [name, value] of Object.entries(event.attributes)) {
    const deep = tooDeepAt(value, limits.maxDepth, name)
    if (deep !== undefined) return tooDeep(limits, deep)
  }
  return undefined
}

/**
 * Decides whether the event can be stored; on success, its row as UTF-8 JSON (encoded once,
 * here). Bytes, not a string: the same bytes are the journal record and go into the flush's
 * parameter, and a string held until the commit outlived the young generation (~0.8 KB per event
 * promoted to the old one at 10,000 events/s).
 */
export const admitEvent = (event: IngestEvent, limits: AdmissionLimits): Either.Either<Buffer, Refusal> => {
  let row: string
  try {
    row = encodedRow(event)
  } catch (error) {
    // Deeper than the encoder's stack allows (or not encodable at all).
    return Either.left(
      deepField(event, limits) ??
        { field: "event", reason: `cannot be encoded: ${error instanceof Error ? error.message : String(error)}` }
    )
  }
  // The row wraps `data` in one object (and extensions in two): deeper text means look closer.
  const rowLimit = limits.maxDepth + 1
  if (bracketCount(row, rowLimit) > rowLimit && jsonDepth(row) > rowLimit) {
    const refusal = deepField(event, limits)
    if (refusal !== undefined) return Either.left(refusal)
  }
  const bytes = Buffer.from(row)
  if (bytes.length > limits.maxEventBytes) {
    return Either.left({
      field: "event",
      reason: `is ${bytes.length} bytes once stored; the limit is ${limits.maxEventBytes} bytes (INGEST_MAX_EVENT_BYTES)`
    })
  }
  return Either.right(bytes)
}

/**
 * A journal record read back (after a restart, or from spill) goes through the same gate: a
 * record this version cannot read or would refuse is dead-lettered, never replayed forever.
 */
export const admitRecord = (
  payload: Uint8Array,
  limits: AdmissionLimits
): Either.Either<{ readonly event: IngestEvent; readonly row: Buffer }, Refusal & { readonly text: string }> => {
  let event: IngestEvent
  try {
    event = decodeEvent(payload)
  } catch (error) {
    return Either.left({
      field: "event",
      reason: `journal record cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      text: Buffer.from(payload).toString("utf8")
    })
  }
  if (typeof event.source !== "string" || typeof event.id !== "string" || typeof event.type !== "string") {
    return Either.left({ field: "event", reason: "journal record lacks source, id or type", text: Buffer.from(payload).toString("utf8") })
  }
  return Either.match(admitEvent(event, limits), {
    onLeft: (refusal) => Either.left({ ...refusal, text: Buffer.from(payload).toString("utf8") }),
    onRight: (row) => Either.right({ event, row })
  })
}

/** An event that passed the door: its key and its row, encoded once. */
export interface Admitted {
  readonly index: number
  readonly event: IngestEvent
  readonly key: string
  /** UTF-8 JSON. */
  readonly row: Buffer
}

/** One request at the door: what `take` decided so far. */
export interface Door {
  /**
   * Decides one event (in request order; `index` is its place in the request). Returns the bytes
   * it admitted (0 for a duplicate or a refusal): what its slice of the request cost.
   */
  readonly take: (event: IngestEvent, index: number) => number
  /** Per event, provisional: "accepted" means queued. */
  readonly outcomes: Array<Outcome>
  readonly admitted: ReadonlyArray<Admitted>
  readonly refused: ReadonlyArray<{ readonly index: number; readonly event: IngestEvent } & Refusal>
}

/**
 * One request's events at the door, taken in order (in slices, Slices.ts): a repeat of an
 * earlier event of the same request (or, unless the caller waits for the commit, of a recently
 * admitted one) is a duplicate; an event `admitEvent` refuses is rejected (and listed, to be
 * dead-lettered); the rest is admitted.
 */
export const openDoor = (
  count: number,
  options: { readonly limits: AdmissionLimits; readonly isRecent: (key: string) => boolean }
): Door => {
  const outcomes: Array<Outcome> = new Array<Outcome>(count).fill("accepted")
  const admitted: Array<Admitted> = []
  const refused: Array<{ readonly index: number; readonly event: IngestEvent } & Refusal> = []
  const inRequest = new Set<string>()
  const take = (event: IngestEvent, index: number): number => {
    const key = eventKey(event)
    if (inRequest.has(key) || options.isRecent(key)) {
      outcomes[index] = "duplicate"
      return 0
    }
    const verdict = admitEvent(event, options.limits)
    if (Either.isLeft(verdict)) {
      outcomes[index] = { status: "rejected", ...verdict.left }
      refused.push({ index, event, ...verdict.left })
      return 0
    }
    inRequest.add(key)
    admitted.push({ index, event, key, row: verdict.right })
    return verdict.right.byteLength
  }
  return { take, outcomes, admitted, refused }
}
