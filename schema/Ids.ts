/** Identifiers: short, printable, safe in URLs, logs and SSE topic names. */
import { Schema } from "effect"

const rule = (max: number) =>
  `must be 1-${max} characters: letters, digits, ".", "_", ":" or "-", starting with a letter or digit`

const id = (max: number) =>
  Schema.String.annotations({ message: () => "must be a string" }).pipe(
    Schema.pattern(new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,${max - 1}}$`), { message: () => rule(max) })
  )

export const GatewayId = id(128).pipe(Schema.brand("GatewayId")).annotations({
  description: "Identifier of a MachPay gateway."
})
export type GatewayId = typeof GatewayId.Type

export const AgentId = id(128).pipe(Schema.brand("AgentId")).annotations({
  description: "Identifier of an AI agent (the paying caller)."
})
export type AgentId = typeof AgentId.Type

export const VendorId = id(128).pipe(Schema.brand("VendorId")).annotations({
  description: "Identifier of a vendor (the owner of gateways)."
})
export type VendorId = typeof VendorId.Type

/** Request, payment, intent and packet ids: same alphabet, up to 256 characters. */
export const Identifier = id(256).pipe(Schema.brand("Identifier")).annotations({
  description: "Identifier (request, payment, intent or packet id)."
})
export type Identifier = typeof Identifier.Type
