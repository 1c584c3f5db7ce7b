/**
 * The `cli` command tree (`src/admin/CliCommand.ts`, on `@effect/cli`) with a recording `run`:
 * which `Command` a command line parses to, and what is said about one that is refused —
 * always which option and what is wrong with it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Command } from "../../src/admin/Cli.js"
import { DEFAULT_TTL_SECONDS } from "../../src/admin/CliCommand.js"
import { AgentId, GatewayId, VendorId } from "../../schema/Ids.js"
import { parse } from "./support-parse.js"

const v = VendorId.make
const g = GatewayId.make
const a = AgentId.make

const parsed = (argv: ReadonlyArray<string>) =>
  Effect.map(parse(argv), (result) => {
    if (result.error !== undefined) throw new Error(`expected ${argv.join(" ")} to parse, got: ${result.error.message}`)
    return result.commands
  })

const failure = (argv: ReadonlyArray<string>) =>
  Effect.map(parse(argv), (result) => {
    if (result.error === undefined) throw new Error(`expected ${argv.join(" ")} to fail, got ${JSON.stringify(result.commands)}`)
    return result.error
  })

/** Help printed, nothing run. */
const help = (argv: ReadonlyArray<string>) =>
  Effect.map(parse(argv), (result) => {
    if (result.error !== undefined) throw new Error(`expected help for ${argv.join(" ")}, got: ${result.error.message}`)
    expect(result.commands).toEqual([])
    return result.lines.join("\n")
  })

describe("accepted command lines", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, Command]> = [
    ["vendor create", ["vendor", "create", "--id", "v1", "--name", "Acme Corp"],
      Command.VendorCreate({ id: v("v1"), name: "Acme Corp", json: false })],
    ["--flag=value form, name trimmed", ["vendor", "create", "--id=acme:eu-1", "--name= Acme "],
      Command.VendorCreate({ id: v("acme:eu-1"), name: "Acme", json: false })],
    ["vendor list --json", ["vendor", "list", "--json"], Command.VendorList({ json: true })],
    ["gateway create, defaults", ["gateway", "create", "--vendor", "v1", "--id", "g1", "--name", "Edge"],
      Command.GatewayCreate({ vendorId: v("v1"), id: g("g1"), name: "Edge", rateLimitPerSec: Option.none(), rateLimitBytesPerSec: Option.none(), signingSecret: false, json: false })],
    ["gateway create, all options in any order",
      ["gateway", "create", "--signing-secret", "--rate-limit", "500", "--name", "Edge", "--id", "g1", "--vendor=v1", "--json"],
      Command.GatewayCreate({ vendorId: v("v1"), id: g("g1"), name: "Edge", rateLimitPerSec: Option.some(500), rateLimitBytesPerSec: Option.none(), signingSecret: true, json: true })],
    ["gateway create --byte-rate-limit",
      ["gateway", "create", "--byte-rate-limit", "1048576", "--name", "Edge", "--id", "g1", "--vendor=v1"],
      Command.GatewayCreate({ vendorId: v("v1"), id: g("g1"), name: "Edge", rateLimitPerSec: Option.none(), rateLimitBytesPerSec: Option.some(1048576), signingSecret: false, json: false })],
    ["gateway rotate-key", ["gateway", "rotate-key", "--id", "g1"], Command.GatewayRotateKey({ id: g("g1"), json: false })],
    ["gateway list", ["gateway", "list"], Command.GatewayList({ vendorId: Option.none(), json: false })],
    ["gateway list --vendor", ["gateway", "list", "--vendor", "v1"], Command.GatewayList({ vendorId: Option.some(v("v1")), json: false })],
    ["gateway disable", ["gateway", "disable", "--id", "g1"], Command.GatewayDisable({ id: g("g1"), json: false })],
    ["gateway enable", ["gateway", "enable", "--id", "g1"], Command.GatewayEnable({ id: g("g1"), json: false })],
    ["agent create, id only", ["agent", "create", "--id", "a1"],
      Command.AgentCreate({ id: a("a1"), name: Option.none(), wallet: Option.none(), json: false })],
    ["agent create, all", ["agent", "create", "--id", "a1", "--name", "Bot", "--wallet", "0xAbC123"],
      Command.AgentCreate({ id: a("a1"), name: Option.some("Bot"), wallet: Option.some("0xAbC123"), json: false })],
    ["agent list", ["agent", "list"], Command.AgentList({ json: false })],
    ["token for a vendor, default ttl", ["token", "mint", "--role", "vendor", "--vendor", "v1"],
      Command.TokenMint({ principal: { role: "vendor", vendorId: v("v1") }, ttlSeconds: DEFAULT_TTL_SECONDS, json: false })],
    ["token for an agent, 30m", ["token", "mint", "--role", "agent", "--agent", "a1", "--ttl", "30m"],
      Command.TokenMint({ principal: { role: "agent", agentId: a("a1") }, ttlSeconds: 1800, json: false })],
    ["token for admin, 7d, subject", ["token", "mint", "--role=admin", "--ttl=7d", "--subject", "ops@machpay"],
      Command.TokenMint({ principal: { role: "admin", subject: "ops@machpay" }, ttlSeconds: 7 * 86_400, json: false })],
    ["token ttl at the 30d maximum", ["token", "mint", "--role", "admin", "--ttl", "30d"],
      Command.TokenMint({ principal: { role: "admin", subject: "admin" }, ttlSeconds: 30 * 86_400, json: false })],
    ["a value starting with a single dash", ["vendor", "create", "--id", "v1", "--name", "-dash-"],
      Command.VendorCreate({ id: v("v1"), name: "-dash-", json: false })],
    // @effect/cli's switches take an explicit boolean (true/false, yes/no, on/off, 1/0).
    ["a switch with a value", ["vendor", "list", "--json=yes"], Command.VendorList({ json: true })],
    ["a switch turned off", ["gateway", "list", "--json=false"], Command.GatewayList({ vendorId: Option.none(), json: false })]
  ]
  for (const [title, argv, expected] of cases) {
    it.effect(title, () =>
      Effect.gen(function*() {
        expect(yield* parsed(argv)).toEqual([expected])
      }))
  }

  it.effect("jobs run <job> [--dry-run], the switch before or after the job", () =>
    Effect.gen(function*() {
      expect(yield* parsed(["jobs", "run", "rollup"])).toEqual([Command.JobRun({ job: "rollup", dryRun: false })])
      expect(yield* parsed(["jobs", "run", "retention", "--dry-run"])).toEqual([Command.JobRun({ job: "retention", dryRun: true })])
      expect(yield* parsed(["jobs", "run", "--dry-run", "archive"])).toEqual([Command.JobRun({ job: "archive", dryRun: true })])
    }))
})

describe("help: generated by @effect/cli, printed, nothing run", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
    ["no arguments", [], "token"],
    ["help", ["help"], "gateway"],
    ["help for a group", ["help", "gateway"], "rotate-key"],
    ["a group without a command", ["vendor"], "create"],
    ["help for every group", ["help", "vendor"], "list"],
    ["help for agents", ["help", "agent"], "create"],
    ["help for tokens", ["help", "token"], "mint"],
    ["help for jobs", ["help", "jobs"], "run"],
    ["--help on a command, after some options", ["gateway", "create", "--id", "x", "--help"], "--signing-secret"],
    ["-h on a group", ["token", "-h"], "mint"]
  ]
  for (const [title, argv, mentions] of cases) {
    it.effect(title, () =>
      Effect.gen(function*() {
        expect(yield* help(argv)).toContain(mentions)
      }))
  }
})

describe("rejected command lines name the argument and the problem", () => {
  const idRule = "must be 1-128 characters: letters, digits, \".\", \"_\", \":\" or \"-\", starting with a letter or digit"
  const missing = (...options: ReadonlyArray<string>) => options.map((o) => `Expected to find option: '--${o}'`).join("\n\n")
  const groups = "Invalid subcommand for cli - use one of 'vendor', 'gateway', 'agent', 'token', 'jobs'"
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
    // @effect/cli's wording for the shape of the command line; ours for the values.
    [["frobnicate"], groups],
    [["help", "frobnicate"], "unknown command \"frobnicate\""],
    [["vendor", "delete"], groups],
    [["vendor", "create", "--name", "Acme"], missing("id")],
    [["vendor", "create", "--id", "v1"], missing("name")],
    [["vendor", "create", "--id", "bad id", "--name", "x"], `--id "bad id": ${idRule}`],
    [["vendor", "create", "--id", "-v1", "--name", "x"], `--id "-v1": ${idRule}`],
    [["vendor", "create", "--id", "x".repeat(129), "--name", "x"], `--id "${"x".repeat(129)}": ${idRule}`],
    [["vendor", "create", "--id", "v1", "--name", "  "], "--name: must not be empty"],
    [["vendor", "create", "--id", "v1", "--name"], "Expected a value following option: '--name'"],
    // `--id` takes the next word as its value, whatever it looks like: that value is refused, and `--name` is then missing.
    [["vendor", "create", "--id", "--name", "x"], `--id "--name": ${idRule}\n\n${missing("name")}`],
    [["vendor", "create", "--id", "v1", "--id", "v2", "--name", "x"], "option --id is given more than once"],
    [["vendor", "create", "--id", "v1", "--name", "x", "--colour", "red"], "Received unknown argument: '--colour'"],
    [["vendor", "create", "v1"], missing("id", "name")],
    [["gateway", "create", "--id", "g1", "--name", "x"], missing("vendor")],
    [["gateway", "create", "--id", "g1"], missing("vendor", "name")],
    [["gateway", "create"], missing("vendor", "id", "name")],
    [["gateway", "create", "--vendor", "v 1", "--id", "g1", "--name", "x"], `--vendor "v 1": ${idRule}`],
    [["gateway", "create", "--vendor", "v1", "--id", "g1", "--name", "x", "--rate-limit", "0"],
      "--rate-limit \"0\": must be a whole number of events per second from 1 to 1000000"],
    [["gateway", "create", "--vendor", "v1", "--id", "g1", "--name", "x", "--rate-limit", "12.5"],
      "--rate-limit \"12.5\": must be a whole number of events per second from 1 to 1000000"],
    [["gateway", "create", "--vendor", "v1", "--id", "g1", "--name", "x", "--byte-rate-limit", "0"],
      "--byte-rate-limit \"0\": must be a whole number of bytes per second from 1 to 1099511627776"],
    [["gateway", "create", "--vendor", "v1", "--id", "g1", "--name", "x", "--byte-rate-limit", "10M"],
      "--byte-rate-limit \"10M\": must be a whole number of bytes per second from 1 to 1099511627776"],
    [["gateway", "rotate-key"], missing("id")],
    [["agent", "create", "--id", "a1", "--wallet", "0x 12"], "--wallet \"0x 12\": must be 1-256 printable characters without spaces"],
    [["token", "mint"], missing("role")],
    [["token", "mint", "--role", "root"], "--role \"root\": must be one of vendor, agent, admin"],
    [["token", "mint", "--role", "vendor"], "--role vendor needs --vendor <vendorId>"],
    [["token", "mint", "--role", "agent", "--vendor", "v1"], "--vendor cannot be used with --role agent"],
    [["token", "mint", "--role", "admin", "--agent", "a1"], "--agent cannot be used with --role admin"],
    [["token", "mint", "--role", "admin", "--ttl", "31d"], "--ttl \"31d\": must be at most 30d"],
    [["token", "mint", "--role", "admin", "--ttl", "721h"], "--ttl \"721h\": must be at most 30d"],
    [["token", "mint", "--role", "admin", "--ttl", "24"],
      "--ttl \"24\": must be a positive number followed by m, h or d (e.g. 30m, 24h, 7d)"],
    [["token", "mint", "--role", "admin", "--ttl", "0h"],
      "--ttl \"0h\": must be a positive number followed by m, h or d (e.g. 30m, 24h, 7d)"],
    [["jobs", "run", "nope"], "Expected one of the following cases: rollup, partitions, retention, archive"],
    [["jobs", "run"], "Missing argument <job> with choices rollup | partitions | retention | archive"]
  ]
  for (const [argv, message] of cases) {
    it.effect(argv.join(" ") || "(empty)", () =>
      Effect.gen(function*() {
        expect((yield* failure(argv)).message).toBe(message)
      }))
  }

  it.effect("options that do not go together, or an option given twice, hint at the usage", () =>
    Effect.gen(function*() {
      expect((yield* failure(["token", "mint", "--role", "vendor"])).hint).toBe("run `npm run cli -- token mint --help` for usage")
      expect((yield* failure(["vendor", "create", "--id", "v1", "--id", "v2"])).hint).toBe("run `npm run cli -- help` for usage")
    }))
})

describe("generated help", () => {
  it.effect("lists every command", () =>
    Effect.gen(function*() {
      const text = yield* help([])
      for (const command of ["vendor", "gateway", "agent", "token", "jobs"]) expect(text).toContain(command)
      expect(text).toContain("MachPay Telemetry administration")
    }))

  it.effect("a command's help shows its options, placeholders and which are optional", () =>
    Effect.gen(function*() {
      expect(yield* help(["gateway", "create", "--help"])).toContain(
        "--vendor vendorId --id id --name name [--rate-limit events/s] [--byte-rate-limit bytes/s] [--signing-secret] [--json]"
      )
      expect(yield* help(["gateway", "list", "--help"])).toContain("[--vendor vendorId]")
      expect(yield* help(["agent", "create", "--help"])).toContain("--id id [--name name] [--wallet address]")
      expect(yield* help(["token", "mint", "--help"])).toContain(
        "--role vendor|agent|admin [--vendor vendorId] [--agent agentId] [--subject name] [--ttl duration]"
      )
      expect(yield* help(["token", "mint", "--help"])).toContain("at most 30d")
    }))

  it.effect("narrows to a group", () =>
    Effect.gen(function*() {
      const agent = yield* help(["agent", "--help"])
      expect(agent).toContain("create")
      expect(agent).not.toContain("rotate-key")
    }))
})
