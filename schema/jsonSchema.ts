/**
 * JSON Schema (draft-07) documents of the wire contract, built from the Effect
 * schemas, for gateways written in other languages. Pure: `generate.ts` writes
 * them, the drift test compares them with the committed files.
 */
import { JSONSchema, type Schema } from "effect"
import { CloudEvent, CloudEventBatch } from "./CloudEvent.js"
import { EventTypes } from "./events/index.js"
import { ErrorBody, IngestResponse } from "./Ingest.js"

export const SCHEMA_BASE_URI = "https://schemas.machpay.io/telemetry/v1/"

/** Documents by name; each is written to `schema/json/<name>.schema.json`. */
export const documentSources: Readonly<Record<string, Schema.Schema.AnyNoContext>> = {
  ...EventTypes,
  CloudEvent,
  CloudEventBatch,
  IngestResponse,
  ErrorBody
}

/** A JSON Schema document: plain JSON with the keys every document has. */
export type JsonSchemaDocument = {
  readonly $schema: string
  readonly $id: string
  readonly title: string
  readonly [key: string]: Json
}

type Json = null | boolean | number | string | ReadonlyArray<Json> | JsonObject
type JsonObject = { readonly [key: string]: Json }
const isJsonObject = (value: Json): value is JsonObject =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/**
 * Drops Effect's generated noise below the root: auto titles on leaf values
 * ("maxLength(256)", "nonNegative"; fields are documented by `description`) and
 * the `$id: "/schemas/unknown"` marker of `Schema.Unknown` (a relative `$id`
 * that some validators resolve). Titles of object schemas are ours and stay.
 */
const tidy = (value: Json): Json => {
  if (!isJsonObject(value)) return Array.isArray(value) ? value.map(tidy) : value
  const out: Record<string, Json> = {}
  for (const [key, child] of Object.entries(value)) {
    if (key === "title" && value["type"] !== "object") continue
    if (key === "$id" && child === "/schemas/unknown") continue
    // `properties`/`patternProperties` map names to schemas: a property may be called "title".
    out[key] = key === "properties" || key === "patternProperties" ? tidyMap(child) : tidy(child)
  }
  return out
}
const tidyMap = (value: Json): Json =>
  isJsonObject(value) ? Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, tidy(schema)])) : value

/**
 * The JSON Schema document for one schema. Unknown object fields are allowed,
 * matching decoding (which ignores them); the CloudEvent envelope sets its own
 * rule for extension attributes.
 */
export const makeJsonSchema = (name: string, schema: Schema.Schema.AnyNoContext): JsonSchemaDocument => {
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const body = JSONSchema.fromAST(schema.ast, {
    definitions,
    target: "jsonSchema7",
    additionalPropertiesStrategy: "allow"
  })
  const json: Json = JSON.parse(JSON.stringify(Object.keys(definitions).length > 0 ? { ...body, $defs: definitions } : body))
  const tidied = tidy(json)
  const rest = isJsonObject(tidied) ? tidied : {}
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: `${SCHEMA_BASE_URI}${name}.schema.json`,
    ...rest,
    title: name
  }
}

/** All documents, keyed by file name (`<name>.schema.json`). */
export const makeJsonSchemaDocuments = (): Record<string, JsonSchemaDocument> =>
  Object.fromEntries(
    Object.entries(documentSources).map(([name, schema]) => [`${name}.schema.json`, makeJsonSchema(name, schema)])
  )

/** Stable file content: 2-space JSON plus a trailing newline. */
export const renderJsonSchema = (document: JsonSchemaDocument): string => `${JSON.stringify(document, null, 2)}\n`
