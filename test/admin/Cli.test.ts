import { NodeFileSystem } from "@effect/platform-node"
import { SqlClient, SqlSchema } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { hashIngestKey, isIngestKeyFormat, keyPrefix } from "../../src/identity/IngestKey.js"
import { makeTestDatabase } from "../support/database.js"
import { cli, TestDataDirLive, valueOf } from "./support.js"

const TestLive = Layer.mergeAll(makeTestDatabase(), TestDataDirLive).pipe(Layer.provideMerge(NodeFileSystem.layer))

/** What a gateway's key resolves to in the database, read back as the test sees it. */
const findGatewayByKeyHash = (keyHash: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* SqlSchema.findOne({
      Request: Schema.String,
      Result: Schema.Struct({
        id: Schema.String,
        vendorId: Schema.String,
        rateLimitPerSec: Schema.OptionFromNullOr(Schema.Number),
        signingSecret: Schema.OptionFromNullOr(Schema.Redacted(Schema.String)),
        disabled: Schema.Boolean
      }),
      execute: (hash) =>
        sql`SELECT id, vendor_id AS "vendorId", rate_limit_per_sec AS "rateLimitPerSec",
                   signing_secret AS "signingSecret", disabled_at IS NOT NULL AS disabled
            FROM gateways WHERE ingest_key_hash = ${hash}`
    })(keyHash)
  }).pipe(Effect.orDie)

const storedGateway = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ readonly hash: string; readonly prefix: string | null; readonly secret: string | null }>`
      SELECT ingest_key_hash AS hash, ingest_key_prefix AS prefix, signing_secret AS secret FROM gateways WHERE id = ${id}`
    const row = rows[0]
    if (row === undefined) throw new Error(`gateway ${id} not stored`)
    return row
  })

layer(TestLive)("admin CLI on PostgreSQL", (it) => {
  it.effect("creates and lists vendors; a duplicate is a clear error", () =>
    Effect.gen(function*() {
      expect(yield* cli(["vendor", "list"])).toEqual(["no vendors yet"])
      const created = yield* cli(["vendor", "create", "--id", "acme", "--name", "Acme Corp"])
      expect(created[0]).toBe("created vendor acme (\"Acme Corp\")")
      const list = yield* cli(["vendor", "list"])
      expect(list[0]).toMatch(/^ID\s+NAME\s+GATEWAYS\s+ACTIVE\s+CREATED$/)
      expect(list[1]).toMatch(/^acme\s+Acme Corp\s+0\s+0\s+\d{4}-\d\d-\d\dT/)
      const duplicate = yield* Effect.flip(cli(["vendor", "create", "--id", "acme", "--name", "Other"]))
      expect(duplicate).toMatchObject({
        _tag: "CliError",
        message: "vendor acme already exists",
        hint: "see the existing ones with: npm run cli -- vendor list"
      })
    }))

  it.effect("refuses a gateway for an unknown vendor", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(cli(["gateway", "create", "--vendor", "nope", "--id", "g-x", "--name", "X"]))
      expect(error.message).toBe("vendor nope not found")
      expect(yield* findGatewayByKeyHash("0".repeat(64))).toEqual(Option.none())
    }))

  it.effect("prints the ingest key once; only its hash and prefix are stored; the key finds the gateway", () =>
    Effect.gen(function*() {
      yield* cli(["vendor", "create", "--id", "v-key", "--name", "Keys"])
      const out = yield* cli([
        "gateway", "create", "--vendor", "v-key", "--id", "g-key", "--name", "Edge 1", "--rate-limit", "250", "--signing-secret"
      ])
      expect(out[0]).toBe("created gateway g-key for vendor v-key (\"Edge 1\", rate limit: 250 events/s, byte rate limit: server default)")
      const key = valueOf(out, "ingest key")
      const secret = valueOf(out, "signing secret")
      expect(isIngestKeyFormat(key)).toBe(true)
      expect(valueOf(out, "key prefix")).toBe(keyPrefix(key))
      expect(secret).toMatch(/^mpsig_[A-Za-z0-9_-]{43}$/)
      expect(out.at(-1)).toBe("Store the key and the signing secret now: they are not shown again.")

      const stored = yield* storedGateway("g-key")
      expect(stored.hash).toBe(hashIngestKey(key))
      expect(stored.prefix).toBe(keyPrefix(key))
      expect(stored.secret).toBe(secret)

      const found = yield* findGatewayByKeyHash(hashIngestKey(key))
      expect(Option.isSome(found)).toBe(true)
      const gateway = Option.getOrThrow(found)
      expect(gateway.id).toBe("g-key")
      expect(gateway.vendorId).toBe("v-key")
      expect(gateway.rateLimitPerSec).toEqual(Option.some(250))
      expect(gateway.disabled).toBe(false)
      expect(Option.map(gateway.signingSecret, Redacted.value)).toEqual(Option.some(secret))
      // The secret stays out of logs and JSON by accident.
      expect(String(Option.getOrThrow(gateway.signingSecret))).not.toContain(secret)

      const wrong = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`
      expect(yield* findGatewayByKeyHash(hashIngestKey(wrong))).toEqual(Option.none())

      const duplicate = yield* Effect.flip(cli(["gateway", "create", "--vendor", "v-key", "--id", "g-key", "--name", "Again"]))
      expect(duplicate.message).toBe("gateway g-key already exists")
    }))

  it.effect("a gateway without options uses the server's rate limit and no signing secret", () =>
    Effect.gen(function*() {
      yield* cli(["vendor", "create", "--id", "v-plain", "--name", "Plain"])
      const out = yield* cli(["gateway", "create", "--vendor", "v-plain", "--id", "g-plain", "--name", "Plain"])
      expect(out[0]).toContain("rate limit: server default")
      expect(out.some((line) => line.startsWith("signing secret:"))).toBe(false)
      const gateway = Option.getOrThrow(yield* findGatewayByKeyHash(hashIngestKey(valueOf(out, "ingest key"))))
      expect(gateway.rateLimitPerSec).toEqual(Option.none())
      expect(gateway.signingSecret).toEqual(Option.none())
    }))

  it.effect("rotate-key: the new key works, the old one stops working", () =>
    Effect.gen(function*() {
      yield* cli(["vendor", "create", "--id", "v-rot", "--name", "Rotation"])
      const oldKey = valueOf(yield* cli(["gateway", "create", "--vendor", "v-rot", "--id", "g-rot", "--name", "R"]), "ingest key")
      const out = yield* cli(["gateway", "rotate-key", "--id", "g-rot"])
      expect(out[0]).toBe("new ingest key for gateway g-rot; the previous key no longer works")
      const newKey = valueOf(out, "ingest key")
      expect(newKey).not.toBe(oldKey)
      expect(yield* findGatewayByKeyHash(hashIngestKey(oldKey))).toEqual(Option.none())
      expect(Option.map(yield* findGatewayByKeyHash(hashIngestKey(newKey)), (g) => g.id)).toEqual(Option.some("g-rot"))
      expect((yield* storedGateway("g-rot")).prefix).toBe(keyPrefix(newKey))

      const unknown = yield* Effect.flip(cli(["gateway", "rotate-key", "--id", "g-none"]))
      expect(unknown).toMatchObject({
        _tag: "CliError",
        message: "gateway g-none not found",
        hint: "see the existing ones with: npm run cli -- gateway list"
      })
    }))

  it.effect("disable and enable: reported to the ingest lookup and in the list", () =>
    Effect.gen(function*() {
      yield* cli(["vendor", "create", "--id", "v-dis", "--name", "Disable"])
      const key = valueOf(yield* cli(["gateway", "create", "--vendor", "v-dis", "--id", "g-dis", "--name", "D"]), "ingest key")
      expect(yield* cli(["gateway", "disable", "--id", "g-dis"])).toEqual([
        "disabled gateway g-dis: its events are refused from now on"
      ])
      const found = Option.getOrThrow(yield* findGatewayByKeyHash(hashIngestKey(key)))
      expect(found.disabled).toBe(true)
      const again = yield* cli(["gateway", "disable", "--id", "g-dis"])
      expect(again[0]).toMatch(/^gateway g-dis was already disabled since \d{4}-/)
      const list = yield* cli(["gateway", "list", "--vendor", "v-dis"])
      expect(list[1]).toMatch(/^g-dis\s+v-dis\s+D\s+mpk_live_\S{3}\s+default\s+default\s+no\s+disabled since \S+\s+never$/)
      const rotated = yield* cli(["gateway", "rotate-key", "--id", "g-dis"])
      expect(rotated.at(-1)).toBe("note: gateway g-dis is disabled; `npm run cli -- gateway enable --id g-dis` accepts its events again")

      expect(yield* cli(["gateway", "enable", "--id", "g-dis"])).toEqual(["enabled gateway g-dis: its events are accepted again"])
      expect(yield* cli(["gateway", "enable", "--id", "g-dis"])).toEqual(["gateway g-dis was not disabled"])
      const key2 = valueOf(rotated, "ingest key")
      expect(Option.map(yield* findGatewayByKeyHash(hashIngestKey(key2)), (g) => g.disabled)).toEqual(Option.some(false))
      expect((yield* Effect.flip(cli(["gateway", "disable", "--id", "g-none"]))).message).toBe("gateway g-none not found")
    }))

  it.effect("gateway list shows prefixes, never keys or hashes; filters by vendor", () =>
    Effect.gen(function*() {
      yield* cli(["vendor", "create", "--id", "v-list", "--name", "List"])
      yield* cli(["vendor", "create", "--id", "v-empty", "--name", "Empty"])
      const key = valueOf(
        yield* cli([
          "gateway", "create", "--vendor", "v-list", "--id", "g-list", "--name", "L", "--rate-limit", "10", "--byte-rate-limit", "5000000000",
          "--signing-secret"
        ]),
        "ingest key"
      )
      const all = (yield* cli(["gateway", "list"])).join("\n")
      expect(all).toContain("g-list")
      expect(all).toContain("g-key")
      const mine = yield* cli(["gateway", "list", "--vendor", "v-list"])
      expect(mine).toHaveLength(2)
      expect(mine[0]).toMatch(/^ID\s+VENDOR\s+NAME\s+KEY PREFIX\s+RATE LIMIT\s+BYTE RATE LIMIT\s+SIGNED\s+STATUS\s+LAST SEEN$/)
      expect(mine[1]).toMatch(new RegExp(`^g-list\\s+v-list\\s+L\\s+${keyPrefix(key)}\\s+10/s\\s+5000000000 B/s\\s+yes\\s+active\\s+never$`))
      const json = yield* cli(["gateway", "list", "--vendor", "v-list", "--json"])
      for (const text of [all, mine.join("\n"), json.join("\n")]) {
        expect(text).not.toContain(key)
        expect(text).not.toContain(hashIngestKey(key))
      }
      expect(JSON.parse(json.join("\n"))).toEqual([{
        id: "g-list",
        vendorId: "v-list",
        name: "L",
        keyPrefix: keyPrefix(key),
        rateLimitPerSec: 10,
        rateLimitBytesPerSec: 5_000_000_000,
        signed: true,
        status: "active",
        disabledAt: null,
        lastSeenAt: null,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/)
      }])
      expect(yield* cli(["gateway", "list", "--vendor", "v-empty"])).toEqual(["vendor v-empty has no gateways"])
      expect((yield* Effect.flip(cli(["gateway", "list", "--vendor", "v-none"]))).message).toBe("vendor v-none not found")
    }))

  it.effect("gateway create --json carries the key and secret for scripts", () =>
    Effect.gen(function*() {
      yield* cli(["vendor", "create", "--id", "v-json", "--name", "Json"])
      const out = JSON.parse((yield* cli(["gateway", "create", "--vendor", "v-json", "--id", "g-json", "--name", "J", "--json"])).join("\n"))
      expect(out).toEqual({
        id: "g-json",
        vendorId: "v-json",
        name: "J",
        rateLimitPerSec: null,
        rateLimitBytesPerSec: null,
        ingestKey: expect.stringMatching(/^mpk_live_/),
        keyPrefix: expect.stringMatching(/^mpk_live_/),
        signingSecret: null
      })
      expect((yield* storedGateway("g-json")).hash).toBe(hashIngestKey(out.ingestKey))
    }))

  it.effect("creates and lists agents; a duplicate is a clear error", () =>
    Effect.gen(function*() {
      expect(yield* cli(["agent", "list"])).toEqual(["no agents yet"])
      expect(yield* cli(["agent", "create", "--id", "agent-1", "--name", "Shopper", "--wallet", "0xabc"])).toEqual(["created agent agent-1"])
      yield* cli(["agent", "create", "--id", "agent-2"])
      const list = yield* cli(["agent", "list"])
      expect(list).toHaveLength(3)
      expect(list[1]).toMatch(/^agent-1\s+Shopper\s+0xabc\s+\d{4}-/)
      expect(list[2]).toMatch(/^agent-2\s+-\s+-\s+\d{4}-/)
      const json = JSON.parse((yield* cli(["agent", "list", "--json"])).join("\n"))
      expect(json[1]).toEqual({ id: "agent-2", name: null, wallet: null, createdAt: expect.any(String) })
      expect((yield* Effect.flip(cli(["agent", "create", "--id", "agent-1"]))).message).toBe("agent agent-1 already exists")
    }))

  it.effect("help and parse errors go through the command tree too", () =>
    Effect.gen(function*() {
      const help = (yield* cli([])).join("\n")
      expect(help).toContain("MachPay Telemetry administration")
      expect(help).toContain("token mint")
      const error = yield* Effect.flip(cli(["vendor", "create", "--id", "v 1", "--name", "x"]))
      expect(error._tag).toBe("ValidationError")
      expect(error.message).toMatch(/^--id "v 1": must be 1-128 characters/)
    }))
})
