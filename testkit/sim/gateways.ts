/**
 * The simulator's gateways: created in the database the way `gateway create --signing-secret`
 * does (key hash and prefix, signing secret; the same SQL as testkit/faults/harness.ts), and the
 * gateway config file `simulate init` writes — one entry per gateway, with `relayer_url`
 * defaulting to the receiver endpoint.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import pg from "pg"
import { hashIngestKey } from "../../src/identity/IngestKey.js"

export interface GatewayEntry {
  readonly gateway_id: string
  readonly receiver_url: string
  readonly ingest_key: string
  readonly signing_secret?: string
  readonly relayer_url: string
}

export const newKey = () => `mpk_live_${randomBytes(32).toString("base64url")}`

/** `count` gateways of vendor `vendor`, each with its own key and signing secret. */
export const seedGateways = async (options: {
  readonly databaseUrl: string
  readonly count: number
  readonly vendor: string
  readonly prefix: string
  readonly receivers: ReadonlyArray<string>
  readonly relayerUrl?: string
  readonly sign: boolean
}): Promise<Array<GatewayEntry>> => {
  const client = new pg.Client({ connectionString: options.databaseUrl })
  await client.connect()
  try {
    await client.query("INSERT INTO vendors (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [options.vendor])
    const out: Array<GatewayEntry> = []
    for (let i = 0; i < options.count; i++) {
      const id = `${options.prefix}${i}`
      const key = newKey()
      const secret = options.sign ? `whsec_${randomBytes(24).toString("base64url")}` : undefined
      await client.query(
        `INSERT INTO gateways (id, vendor_id, name, ingest_key_hash, ingest_key_prefix, signing_secret)
         VALUES ($1, $2, $1, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET ingest_key_hash = EXCLUDED.ingest_key_hash,
           ingest_key_prefix = EXCLUDED.ingest_key_prefix, signing_secret = EXCLUDED.signing_secret`,
        [id, options.vendor, hashIngestKey(key), key.slice(0, 12), secret ?? null]
      )
      const receiver = options.receivers[i % options.receivers.length]!
      out.push({
        gateway_id: id,
        receiver_url: receiver,
        ingest_key: key,
        ...(secret === undefined ? {} : { signing_secret: secret }),
        relayer_url: options.relayerUrl ?? receiver
      })
    }
    return out
  } finally {
    await client.end()
  }
}

export const writeGatewaysFile = (file: string, gateways: ReadonlyArray<GatewayEntry>) =>
  fs.writeFileSync(file, JSON.stringify({ gateways }, null, 2) + "\n", { mode: 0o600 })

export const readGatewaysFile = (file: string): Array<GatewayEntry> => {
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { gateways?: Array<GatewayEntry> }
  if (!Array.isArray(parsed.gateways) || parsed.gateways.length === 0) throw new Error(`${file}: no "gateways" entries`)
  return parsed.gateways
}
