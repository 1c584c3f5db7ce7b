/**
 * Metric labels from what gateways send, mapped onto bounded sets. Every distinct label value is
 * a time series kept until the process exits, so a value taken as sent would let one request add
 * thousands of series (an unknown `type`, an invalid extension name reported as the field).
 */
import { Effect, Metric, SchemaAST as AST } from "effect"
import { EventTypes, isEventType } from "../../schema/index.js"
import { EnvelopeAttributes } from "../../schema/CloudEvent.js"
import type { Rejection } from "./Decode.js"
import type { IngestEvent } from "./IngestEvent.js"
import * as Metrics from "./Metrics.js"

/** A known event type, or "other" (unknown types, and events whose type could not be read). */
export const typeLabel = (type: string | undefined): string => (type !== undefined && isEventType(type) ? type : "other")

const ENVELOPE_FIELDS: ReadonlySet<string> = new Set([...Object.keys(EnvelopeAttributes), "event", "body"])

/** Deeper than any data schema nests; a bound for recursive (suspended) schemas. */
const MAX_PATH_DEPTH = 8

/**
 * Every path the known data schemas declare (`data.a.b`, array elements as `*`): a bounded set.
 * Before, any path made of the schemas' property names was kept, in any order and at any depth,
 * so one request of 10,000 events each refused at a different such path added 10,000 series
 * (an outside probe: 31,000 series and a 4.5 MB `/metrics` after three requests).
 */
const schemaPaths = (): ReadonlySet<string> => {
  // "data" itself: a missing or malformed `data` (not an object, a NUL in a string).
  const paths = new Set<string>(["data"])
  const visit = (ast: AST.AST, path: string, depth: number): void => {
    if (depth > MAX_PATH_DEPTH) return
    switch (ast._tag) {
      case "TypeLiteral":
        for (const property of ast.propertySignatures) {
          if (typeof property.name !== "string") continue
          const next = `${path}.${property.name}`
          paths.add(next)
          visit(property.type, next, depth + 1)
        }
        return
      case "Union":
        return ast.types.forEach((type) => visit(type, path, depth))
      case "TupleType": {
        const next = `${path}.*`
        if (ast.elements.length > 0 || ast.rest.length > 0) paths.add(next)
        ast.elements.forEach((element) => visit(element.type, next, depth + 1))
        return ast.rest.forEach((rest) => visit(rest.type, next, depth + 1))
      }
      case "Refinement":
        return visit(ast.from, path, depth)
      case "Transformation":
        visit(ast.from, path, depth)
        return visit(ast.to, path, depth)
      case "Suspend":
        return visit(ast.f(), path, depth)
      default:
        return
    }
  }
  for (const schema of Object.values(EventTypes)) visit(schema.ast, "data", 0)
  return paths
}

const DATA_PATHS = schemaPaths()

/**
 * A rejected field as a label: envelope attributes and the `data.*` paths the data schemas
 * declare keep their shape, with array indexes as `*`; any other data path (a sender's own key
 * inside free-form data, a schema's names in an order no schema has) becomes "data.other";
 * anything else is an extension attribute the sender named, so it becomes "extension".
 */
export const fieldLabel = (field: string): string => {
  const [head] = field.split(".", 1)
  if (head === "data") {
    const path = field.split(".").map((segment) => (/^\d+$/.test(segment) ? "*" : segment)).join(".")
    return DATA_PATHS.has(path) ? path : "data.other"
  }
  return head !== undefined && ENVELOPE_FIELDS.has(head) ? head : "extension"
}

/** One request's events counted by type as received, and its rejections by field, on the labels above. */
export const recordReceived = (valid: ReadonlyArray<{ readonly event: IngestEvent }>, rejected: ReadonlyArray<Rejection>) =>
  Effect.gen(function*() {
    const byType = new Map<string, number>()
    for (const { event } of valid) byType.set(typeLabel(event.type), (byType.get(typeLabel(event.type)) ?? 0) + 1)
    for (const r of rejected) byType.set(typeLabel(r.type), (byType.get(typeLabel(r.type)) ?? 0) + 1)
    for (const [type, n] of byType) yield* Metric.incrementBy(Metric.tagged(Metrics.eventsReceived, "type", type), n)
    const fields = new Map<string, number>()
    for (const r of rejected) fields.set(fieldLabel(r.field), (fields.get(fieldLabel(r.field)) ?? 0) + 1)
    for (const [field, n] of fields) {
      yield* Metric.incrementBy(Metric.tagged(Metric.tagged(Metrics.eventsOutcome, "outcome", "rejected"), "field", field), n)
    }
  })
