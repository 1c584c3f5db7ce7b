/**
 * Admission: the depth scan of the encoded text, the field named for a too-deep event (data or
 * extension, including nesting deeper than `JSON.stringify` can go), the size bound, and journal
 * records that can no longer be read.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { admitEvent, admitRecord, bracketCount, jsonDepth } from "../../src/ingest/Admission.js"
import { encodedRow, type IngestEvent } from "../../src/ingest/IngestEvent.js"
import { wireEvent } from "../support/ingestEvents.js"
import { toIngestEvent } from "./support.js"

const LIMITS = { maxDepth: 8, maxEventBytes: 4096 }
const base = toIngestEvent(wireEvent("PaymentAuthorized", { id: "adm-1", time: "2025-06-01T12:00:00Z" }))

/** `levels` nested objects, built without recursion. */
const nested = (levels: number): unknown => {
  let value: unknown = 1
  for (let i = 0; i < levels; i++) value = { a: value }
  return value
}

const withData = (data: unknown): IngestEvent => ({ ...base, data })

describe("admission", () => {
  it("jsonDepth counts objects and arrays, not brackets inside strings", () => {
    expect(jsonDepth("1")).toBe(0)
    expect(jsonDepth('{"a":[1,{"b":2}]}')).toBe(3)
    expect(jsonDepth('{"a":"[[[{{{\\"]]]"}')).toBe(1)
    expect(jsonDepth(JSON.stringify(nested(40)))).toBe(40)
  })

  it("bracketCount never says less than the nesting (so skipping the scan is safe), and stops past its bound", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 12 }), (value) => {
      const text = JSON.stringify(value)
      expect(bracketCount(text, Number.MAX_SAFE_INTEGER)).toBeGreaterThanOrEqual(jsonDepth(text))
    }), { numRuns: 500 })
    expect(bracketCount('{"a":[1,{"b":"[x"}]}', 100)).toBe(4)
    expect(bracketCount("[".repeat(1000), 10)).toBe(11)
  })

  it("an event with many brackets but shallow nesting is admitted (the exact scan decides)", () => {
    const verdict = admitEvent(withData({ rows: Array.from({ length: 50 }, (_, i) => [i, { i }]) }), LIMITS)
    expect(Either.isRight(verdict)).toBe(true)
  })

  it("accepts an ordinary event and returns its row, the same UTF-8 bytes the journal and the flush get", () => {
    const verdict = admitEvent(base, LIMITS)
    expect(Either.map(verdict, (row) => row.toString("utf8"))).toEqual(Either.right(encodedRow(base)))
  })

  it("names the path where data nests too deep", () => {
    const verdict = admitEvent(withData({ ok: 1, deep: nested(8) }), LIMITS)
    expect(Either.isLeft(verdict)).toBe(true)
    if (Either.isLeft(verdict)) {
      expect(verdict.left.field).toBe("data.deep.a.a.a.a.a.a.a")
      expect(verdict.left.reason).toContain("INGEST_MAX_NESTING_DEPTH")
    }
    expect(Either.isRight(admitEvent(withData({ deep: nested(6) }), LIMITS))).toBe(true)
  })

  it("refuses nesting deeper than JSON.stringify can encode, naming the field, without throwing", () => {
    const verdict = admitEvent(withData(nested(50_000)), { maxDepth: 64, maxEventBytes: 10_000_000 })
    expect(Either.isLeft(verdict) && verdict.left.field.startsWith("data.a.a")).toBe(true)
  })

  it("refuses a deep extension by its name", () => {
    const verdict = admitEvent({ ...base, attributes: { ...base.attributes, deepext: nested(12) } }, LIMITS)
    expect(Either.isLeft(verdict) && verdict.left.field.startsWith("deepext.a")).toBe(true)
  })

  it("refuses an event whose stored row is over the byte limit, saying how big it is", () => {
    const verdict = admitEvent(withData({ blob: "é".repeat(3000) }), LIMITS)
    expect(Either.isLeft(verdict) && verdict.left.reason).toMatch(/is \d+ bytes once stored; the limit is 4096 bytes/)
  })

  it("journal records: a readable one comes back with its row; garbage is refused with its text", () => {
    const good = admitRecord(Buffer.from(encodedRow(base)), LIMITS)
    expect(Either.isRight(good) && good.right.event.id).toBe("adm-1")
    for (const bad of ["{not json", "null", "[1,2]", '{"event_time":"x"}']) {
      const verdict = admitRecord(Buffer.from(bad), LIMITS)
      expect(Either.isLeft(verdict), bad).toBe(true)
      if (Either.isLeft(verdict)) expect(verdict.left.text).toBe(bad)
    }
  })
})
