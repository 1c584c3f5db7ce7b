/**
 * Metric labels from what gateways send, mapped onto bounded sets. Every distinct label value is
 * a time series kept until the process exits, so a value taken as sent would let one request add
 * thousands of series (an unknown `type`, an invalid extension name reported as the field).
 */
import { SchemaAST as AST } from "effect"
import { EventTypes, isEventType } from "../../schema/index.js"
import { EnvelopeAttributes } from "../../schema/CloudEvent.js"

/** A known event type, or "other" (unknown types, and events whose type could not be read). */
export const typeLabel = (type: string | undefined): string => (type !== undefined && isEventType(type) ? type : "other")

const ENVELOPE_FIELDS: ReadonlySet<string> = new Set([...Object.keys(EnvelopeAttributes), "event", "body"])

/** Every property name the known data schemas declare, at any depth (a bounded set). */
const schemaPropertyNames = (): ReadonlySet<string> => {
  const names = new Set<string>()
  const seen = new Set<AST.AST>()
  const visit = (ast: AST.AST): void => {
    if (seen.has(ast)) return
    seen.add(ast)
    switch (ast._tag) {
      case "TypeLiteral":
        for (const property of ast.propertySignatures) {
          if (typeof property.name === "string") names.add(property.name)
          visit(property.type)
        }
        return
      case "Union":
        return ast.types.forEach(visit)
      case "TupleType":
        ast.elements.forEach((element) => visit(element.type))
        return ast.rest.forEach((rest) => visit(rest.type))
      case "Refinement":
        return visit(ast.from)
      case "Transformation":
        visit(ast.from)
        return visit(ast.to)
      case "Suspend":
        return visit(ast.f())
      default:
        return
    }
  }
  for (const schema of Object.values(EventTypes)) visit(schema.ast)
  return names
}

const DATA_PROPERTIES = schemaPropertyNames()

/**
 * A rejected field as a label: envelope attributes and `data.*` paths made of the data schemas'
 * own property names keep their shape, with array indexes as `*`; a path through any other key
 * (a sender's own key inside free-form data) becomes "data.other"; anything else is an
 * extension attribute the sender named, so it becomes "extension".
 */
export const fieldLabel = (field: string): string => {
  const [head] = field.split(".", 1)
  if (head === "data") {
    const segments = field.split(".").slice(1).map((segment) => (/^\d+$/.test(segment) ? "*" : segment))
    return segments.every((segment) => segment === "*" || DATA_PROPERTIES.has(segment))
      ? ["data", ...segments].join(".")
      : "data.other"
  }
  return head !== undefined && ENVELOPE_FIELDS.has(head) ? head : "extension"
}
