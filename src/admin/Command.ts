/** What a command line asks for, once parsed and validated (ids branded by the wire schemas). */
import { Data, type Option } from "effect"
import type { AgentId, GatewayId, VendorId } from "../../schema/Ids.js"
import type { JobName } from "../jobs/JobsConfig.js"

/** Whom a minted token speaks for; assignable to `PrincipalSpec` of `identity/Jwt.ts`. */
export type TokenPrincipal =
  | { readonly role: "admin"; readonly subject: string }
  | { readonly role: "vendor"; readonly vendorId: VendorId; readonly subject?: string }
  | { readonly role: "agent"; readonly agentId: AgentId; readonly subject?: string }

export type Command = Data.TaggedEnum<{
  VendorCreate: { readonly id: VendorId; readonly name: string; readonly json: boolean }
  VendorList: { readonly json: boolean }
  GatewayCreate: {
    readonly vendorId: VendorId
    readonly id: GatewayId
    readonly name: string
    readonly rateLimitPerSec: Option.Option<number>
    readonly rateLimitBytesPerSec: Option.Option<number>
    readonly signingSecret: boolean
    readonly json: boolean
  }
  GatewayRotateKey: { readonly id: GatewayId; readonly json: boolean }
  GatewayList: { readonly vendorId: Option.Option<VendorId>; readonly json: boolean }
  GatewayDisable: { readonly id: GatewayId; readonly json: boolean }
  GatewayEnable: { readonly id: GatewayId; readonly json: boolean }
  AgentCreate: {
    readonly id: AgentId
    readonly name: Option.Option<string>
    readonly wallet: Option.Option<string>
    readonly json: boolean
  }
  AgentList: { readonly json: boolean }
  TokenMint: { readonly principal: TokenPrincipal; readonly ttlSeconds: number; readonly json: boolean }
  JobRun: { readonly job: JobName; readonly dryRun: boolean }
}>
export const Command = Data.taggedEnum<Command>()

