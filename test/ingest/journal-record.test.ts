/** The journal record of an event: what is read back is what was accepted. */
import { describe, expect, it } from "vitest"
import { exampleEvents, exampleUnknownEvent } from "../../schema/examples.js"
import { decodeEvent, encodeEvent } from "../../src/ingest/IngestEvent.js"
import { toIngestEvent } from "./support.js"

describe("journal records", () => {
  it.each([...Object.values(exampleEvents), exampleUnknownEvent].map((e) => [e.type, e] as const))(
    "%s reads back equal to the accepted event, typed data included",
    (_, wire) => {
      const event = toIngestEvent(wire)
      const record = encodeEvent(event)
      expect(Buffer.from(record).toString("utf8")).not.toContain("\"known\"")
      expect(decodeEvent(record)).toEqual(event)
    }
  )

  it("reads records in the earlier format (the whole event as JSON) back too", () => {
    const event = toIngestEvent(exampleEvents.GatewayTelemetryPacket)
    const legacy = Buffer.from(JSON.stringify(event))
    expect(decodeEvent(legacy)).toEqual(event)
  })

  it("keeps an event whose data no longer validates, as a raw-only event", () => {
    const event = toIngestEvent(exampleEvents.PaymentAuthorized)
    const record = Buffer.from(JSON.stringify({ ...event, known: undefined, data: { ...event.data as object, amount: "-1" } }))
    const back = decodeEvent(record)
    expect(back.known).toBeUndefined()
    expect(back.id).toBe(event.id)
  })
})
