/**
 * Metric labels from what gateways send, mapped onto bounded sets. Every distinct label value is
 * a time series kept until the process exits, so a value taken as sent would let one request add
 * thousands of series (an unknown `type`, an invalid extension name reported as the field).
 */
import { isEventType } from "../../schema/index.js"
import { EnvelopeAttributes } from "../../schema/CloudEvent.js"

/** A known event type, or "other" (unknown types, and events whose type could not be read). */
export const typeLabel = (type: string | undefined): string => (type !== undefined && isEventType(type) ? type : "other")

const ENVELOPE_FIELDS: ReadonlySet<string> = new Set([...Object.keys(EnvelopeAttributes), "event", "body"])

/**
 * A rejected field as a label: envelope attributes and `data.*` paths keep their shape (the
 * data schemas name a bounded set of properties) with array indexes as `*`; anything else is
 * an extension attribute the sender named, so it becomes "extension".
 */
export const fieldLabel = (field: string): string => {
  const [head] = field.split(".", 1)
  if (head === "data") {
    const path = field.split(".").map((segment) => (/^\d+$/.test(segment) ? "*" : segment)).join(".")
    // Schema paths are short; a long one can only come from keys inside free-form data.
    return path.length <= 64 ? path : "data.other"
  }
  return head !== undefined && ENVELOPE_FIELDS.has(head) ? head : "extension"
}
