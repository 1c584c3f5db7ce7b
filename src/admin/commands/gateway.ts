/**
 * `gateway create|rotate-key|list|disable|enable`. Keys and signing secrets are printed
 * exactly once, when made; the database keeps the key's SHA-256 and a display prefix.
 */
import { Effect, Option } from "effect"
import { randomBytes } from "node:crypto"
import type { GatewayId, VendorId } from "../../../schema/Ids.js"
import { generateIngestKey, hashIngestKey, keyPrefix } from "../../identity/IngestKey.js"
import { type GatewayRow, insertGateway, listGateways, rotateGatewayKey, setGatewayDisabled } from "../AdminRepo.js"
import { CLI } from "../CliError.js"
import { iso, isoOrNull, json, orDash, type Output, table } from "./format.js"

export const SIGNING_SECRET_PREFIX = "mpsig_"

/** 256 random bits, base64url, behind a recognisable prefix (like the ingest keys). */
export const generateSigningSecret: Effect.Effect<string> = Effect.sync(
  () => SIGNING_SECRET_PREFIX + randomBytes(32).toString("base64url")
)

const SHOWN_ONCE = "Store the key now: it is not shown again (only its hash is kept)."

const gatewayJson = (g: GatewayRow) => ({
  id: g.id,
  vendorId: g.vendorId,
  name: g.name,
  keyPrefix: Option.getOrNull(g.keyPrefix),
  rateLimitPerSec: Option.getOrNull(g.rateLimitPerSec),
  rateLimitBytesPerSec: Option.getOrNull(g.rateLimitBytesPerSec),
  signed: g.signed,
  status: Option.isSome(g.disabledAt) ? "disabled" : "active",
  disabledAt: isoOrNull(g.disabledAt),
  lastSeenAt: isoOrNull(g.lastSeenAt),
  createdAt: iso(g.createdAt)
})

const rateText = (rate: Option.Option<number>, unit: string): string =>
  Option.match(rate, { onNone: () => "server default", onSome: (n) => `${n} ${unit}` })

export const gatewayCreate = Effect.fn("Cli.gatewayCreate")(function*(input: {
  readonly vendorId: VendorId
  readonly id: GatewayId
  readonly name: string
  readonly rateLimitPerSec: Option.Option<number>
  readonly rateLimitBytesPerSec: Option.Option<number>
  readonly signingSecret: boolean
  readonly json: boolean
}) {
  const key = yield* generateIngestKey
  const secret = input.signingSecret ? Option.some(yield* generateSigningSecret) : Option.none()
  yield* insertGateway({ ...input, keyHash: hashIngestKey(key), keyPrefix: keyPrefix(key), signingSecret: secret })
  if (input.json) {
    return json({
      id: input.id,
      vendorId: input.vendorId,
      name: input.name,
      rateLimitPerSec: Option.getOrNull(input.rateLimitPerSec),
      rateLimitBytesPerSec: Option.getOrNull(input.rateLimitBytesPerSec),
      ingestKey: key,
      keyPrefix: keyPrefix(key),
      signingSecret: Option.getOrNull(secret)
    })
  }
  const lines: Array<string> = [
    `created gateway ${input.id} for vendor ${input.vendorId} (${JSON.stringify(input.name)}, rate limit: ${rateText(input.rateLimitPerSec, "events/s")}, byte rate limit: ${
      rateText(input.rateLimitBytesPerSec, "bytes/s")})`,
    `ingest key:     ${key}`,
    `key prefix:     ${keyPrefix(key)}`
  ]
  if (Option.isSome(secret)) lines.push(`signing secret: ${secret.value}`)
  lines.push(Option.isSome(secret) ? "Store the key and the signing secret now: they are not shown again." : SHOWN_ONCE)
  return lines
})

export const gatewayRotateKey = Effect.fn("Cli.gatewayRotateKey")(function*(input: {
  readonly id: GatewayId
  readonly json: boolean
}) {
  const key = yield* generateIngestKey
  const gateway = yield* rotateGatewayKey({ id: input.id, keyHash: hashIngestKey(key), keyPrefix: keyPrefix(key) })
  const disabled = Option.isSome(gateway.disabledAt)
  if (input.json) return json({ ...gatewayJson(gateway), ingestKey: key })
  const lines: Array<string> = [
    `new ingest key for gateway ${input.id}; the previous key no longer works`,
    `ingest key:     ${key}`,
    `key prefix:     ${keyPrefix(key)}`,
    SHOWN_ONCE
  ]
  if (disabled) lines.push(`note: gateway ${input.id} is disabled; \`${CLI} gateway enable --id ${input.id}\` accepts its events again`)
  return lines
})

export const gatewayList = (input: { readonly vendorId: Option.Option<VendorId>; readonly json: boolean }) =>
  Effect.map(listGateways(input.vendorId), (gateways): Output => {
    if (input.json) return json(gateways.map(gatewayJson))
    if (gateways.length === 0) {
      return [Option.match(input.vendorId, { onNone: () => "no gateways yet", onSome: (v) => `vendor ${v} has no gateways` })]
    }
    return table(
      ["ID", "VENDOR", "NAME", "KEY PREFIX", "RATE LIMIT", "BYTE RATE LIMIT", "SIGNED", "STATUS", "LAST SEEN"],
      gateways.map((g) => [
        g.id,
        g.vendorId,
        g.name,
        orDash(g.keyPrefix),
        Option.match(g.rateLimitPerSec, { onNone: () => "default", onSome: (n) => `${n}/s` }),
        Option.match(g.rateLimitBytesPerSec, { onNone: () => "default", onSome: (n) => `${n} B/s` }),
        g.signed ? "yes" : "no",
        Option.match(g.disabledAt, { onNone: () => "active", onSome: (at) => `disabled since ${iso(at)}` }),
        Option.match(g.lastSeenAt, { onNone: () => "never", onSome: iso })
      ])
    )
  })

export const gatewaySetDisabled = (disabled: boolean) => (input: { readonly id: GatewayId; readonly json: boolean }) =>
  Effect.map(setGatewayDisabled(input.id, disabled), ({ changed, gateway }): Output => {
    if (input.json) return json({ ...gatewayJson(gateway), changed })
    if (disabled) {
      const since = Option.match(gateway.disabledAt, { onNone: () => "", onSome: (at) => ` since ${iso(at)}` })
      return [changed ? `disabled gateway ${input.id}: its events are refused from now on` : `gateway ${input.id} was already disabled${since}`]
    }
    return [changed ? `enabled gateway ${input.id}: its events are accepted again` : `gateway ${input.id} was not disabled`]
  })
