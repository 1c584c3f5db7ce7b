import AjvModule from "ajv"
import addFormatsModule from "ajv-formats"
import { Either, Schema } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { exampleBatch, exampleEvents, exampleUnknownEvent } from "../../schema/examples.js"
import { makeJsonSchemaDocuments, renderJsonSchema } from "../../schema/jsonSchema.js"
import { CloudEvent, EVENT_TYPES, EventTypes, IngestResponse } from "../../schema/index.js"

// ajv and ajv-formats are CommonJS; under NodeNext their default export is `module.exports`.
const Ajv = AjvModule.default
const addFormats = addFormatsModule.default

const jsonDir = join(import.meta.dirname, "../../schema/json")
const documents = makeJsonSchemaDocuments()

describe("committed JSON Schema files", () => {
  it.each(Object.keys(documents))("%s is up to date", (file) => {
    const document = documents[file]
    expect(document, file).toBeDefined()
    if (document === undefined) return
    let committed: string | undefined
    try {
      committed = readFileSync(join(jsonDir, file), "utf8")
    } catch {
      committed = undefined
    }
    expect(committed, `schema/json/${file} is missing: run \`npm run schemas\``).toBeDefined()
    expect(committed === renderJsonSchema(document), `schema/json/${file} is out of date: run \`npm run schemas\``).toBe(
      true
    )
  })

  it("has no stale files", () => {
    const stale = readdirSync(jsonDir).filter((f) => f.endsWith(".schema.json") && !(f in documents))
    expect(stale, "stale files in schema/json: run `npm run schemas`").toEqual([])
  })

  it("covers every event type, the envelope, the batch and the ingest response", () => {
    for (const name of [...EVENT_TYPES, "CloudEvent", "CloudEventBatch", "IngestResponse"]) {
      expect(Object.keys(documents)).toContain(`${name}.schema.json`)
    }
  })
})

describe("other-language gateways get the same verdicts (ajv)", () => {
  const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true })
  addFormats(ajv)
  const validator = (name: string) => {
    const document = documents[`${name}.schema.json`]
    if (document === undefined) throw new Error(`no document ${name}`)
    return ajv.compile(document)
  }
  const envelope = validator("CloudEvent")
  const batch = validator("CloudEventBatch")
  const effectAccepts = (input: unknown) => Either.isRight(Schema.decodeUnknownEither(CloudEvent)(input))

  it("compiles every document", () => {
    for (const file of Object.keys(documents)) expect(() => validator(file.replace(".schema.json", ""))).not.toThrow()
  })

  it.each(EVENT_TYPES)("accepts the %s example (envelope and data)", (type) => {
    expect(envelope(exampleEvents[type]), JSON.stringify(envelope.errors)).toBe(true)
    expect(validator(type)(exampleEvents[type].data), JSON.stringify(ajv.errors)).toBe(true)
  })

  it("accepts the example batch and an unknown type with extensions", () => {
    expect(batch(exampleBatch)).toBe(true)
    expect(envelope(exampleUnknownEvent)).toBe(true)
  })

  const pa = exampleEvents.PaymentAuthorized
  const { id: _id, ...withoutId } = pa
  const badEnvelopes: ReadonlyArray<readonly [string, unknown]> = [
    ["missing id", withoutId],
    ["specversion 0.3", { ...pa, specversion: "0.3" }],
    ["empty id", { ...pa, id: "" }],
    ["time Feb 30", { ...pa, time: "2024-02-30T00:00:00Z" }],
    ["time nope", { ...pa, time: "nope" }],
    ["extension TraceParent", { ...pa, TraceParent: "x" }],
    ["extension my_ext", { ...pa, my_ext: "x" }],
    ["extension value object", { ...pa, region: { a: 1 } }],
    ["data and data_base64", { ...pa, data_base64: "aGVsbG8=" }],
    ["bad traceparent", { ...pa, traceparent: "00-xyz" }]
  ]

  it.each(badEnvelopes)("rejects envelope: %s (as Effect does)", (_, input) => {
    expect(envelope(input)).toBe(false)
    expect(effectAccepts(input)).toBe(false)
  })

  const paymentData = validator("PaymentAuthorized")
  const badPayments: ReadonlyArray<readonly [string, unknown]> = [
    ["money as number", { ...pa.data, amount: 1.5 }],
    ["money 1e5", { ...pa.data, amount: "1e5" }],
    ["money -1", { ...pa.data, amount: "-1" }],
    ["money 19 decimals", { ...pa.data, amount: `0.${"1".repeat(19)}` }],
    ["method FETCH", { ...pa.data, method: "FETCH" }],
    ["missing gateway_id", { ...pa.data, gateway_id: undefined }]
  ]

  it.each(badPayments)("rejects PaymentAuthorized data: %s (as Effect does)", (_, input) => {
    const json: unknown = JSON.parse(JSON.stringify(input))
    expect(paymentData(json)).toBe(false)
    expect(Either.isLeft(Schema.decodeUnknownEither(EventTypes.PaymentAuthorized)(json))).toBe(true)
  })

  it("validates an ingest response", () => {
    const response = {
      accepted: 1,
      duplicate: 0,
      rejected: 1,
      committed: false,
      results: [
        { index: 0, id: "evt-1", source: "s", type: "PaymentAuthorized", status: "accepted" },
        { index: 1, status: "rejected", reason: "must be a decimal string such as \"0.25\"", field: "data.amount" }
      ]
    }
    expect(validator("IngestResponse")(response)).toBe(true)
    expect(Either.isRight(Schema.decodeUnknownEither(IngestResponse)(response))).toBe(true)
    expect(validator("IngestResponse")({ ...response, committed: "yes" })).toBe(false)
  })
})
