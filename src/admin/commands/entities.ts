/** `vendor create|list` and `agent create|list`. */
import { Effect, Option } from "effect"
import type { AgentId, VendorId } from "../../../schema/Ids.js"
import { insertAgent, insertVendor, listAgents, listVendors } from "../AdminRepo.js"
import { CLI } from "../CliError.js"
import { iso, json, orDash, type Output, table } from "./format.js"

export const vendorCreate = (input: { readonly id: VendorId; readonly name: string; readonly json: boolean }) =>
  Effect.map(insertVendor(input), (): Output =>
    input.json
      ? json({ id: input.id, name: input.name })
      : [`created vendor ${input.id} (${JSON.stringify(input.name)})`, `next: ${CLI} gateway create --vendor ${input.id} --id <id> --name <name>`])

export const vendorList = (input: { readonly json: boolean }) =>
  Effect.map(listVendors, (vendors): Output => {
    if (input.json) {
      return json(vendors.map((v) => ({ ...v, createdAt: iso(v.createdAt) })))
    }
    if (vendors.length === 0) return ["no vendors yet"]
    return table(
      ["ID", "NAME", "GATEWAYS", "ACTIVE", "CREATED"],
      vendors.map((v) => [v.id, v.name, String(v.gateways), String(v.activeGateways), iso(v.createdAt)])
    )
  })

export const agentCreate = (input: {
  readonly id: AgentId
  readonly name: Option.Option<string>
  readonly wallet: Option.Option<string>
  readonly json: boolean
}) =>
  Effect.map(insertAgent(input), (): Output =>
    input.json
      ? json({ id: input.id, name: Option.getOrNull(input.name), wallet: Option.getOrNull(input.wallet) })
      : [`created agent ${input.id}`])

export const agentList = (input: { readonly json: boolean }) =>
  Effect.map(listAgents, (agents): Output => {
    if (input.json) {
      return json(agents.map((a) => ({
        id: a.id,
        name: Option.getOrNull(a.name),
        wallet: Option.getOrNull(a.wallet),
        createdAt: iso(a.createdAt)
      })))
    }
    if (agents.length === 0) return ["no agents yet"]
    return table(["ID", "NAME", "WALLET", "CREATED"], agents.map((a) => [a.id, orDash(a.name), orDash(a.wallet), iso(a.createdAt)]))
  })
