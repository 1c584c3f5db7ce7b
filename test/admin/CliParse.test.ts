import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { Command, helpText, parseCommand } from "../../src/admin/Cli.js"
import { DEFAULT_TTL_SECONDS } from "../../src/admin/CliParse.js"
import { AgentId, GatewayId, VendorId } from "../../schema/Ids.js"

const v = VendorId.make
const g = GatewayId.make
const a = AgentId.make

const parsed = (argv: ReadonlyArray<string>): Command =>
  Either.match(parseCommand(argv), {
    onLeft: (error) => {
      throw new Error(`expected ${argv.join(" ")} to parse, got: ${error.message}`)
    },
    onRight: (command) => command
  })

const failure = (argv: ReadonlyArray<string>) =>
  Either.match(parseCommand(argv), {
    onLeft: (error) => error,
    onRight: (command) => {
      throw new Error(`expected ${argv.join(" ")} to fail, got ${command._tag}`)
    }
  })

describe("parseCommand: accepted command lines", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, Command]> = [
    ["no arguments is help", [], Command.Help({ topic: [] })],
    ["help", ["help"], Command.Help({ topic: [] })],
    ["help for a group", ["help", "gateway"], Command.Help({ topic: ["gateway"] })],
    ["--help on a command", ["gateway", "create", "--id", "x", "--help"], Command.Help({ topic: ["gateway", "create"] })],
    ["-h on a group", ["token", "-h"], Command.Help({ topic: ["token"] })],
    ["vendor create", ["vendor", "create", "--id", "v1", "--name", "Acme Corp"],
      Command.VendorCreate({ id: v("v1"), name: "Acme Corp", json: false })],
    ["--flag=value form, name trimmed", ["vendor", "create", "--id=acme:eu-1", "--name= Acme "],
      Command.VendorCreate({ id: v("acme:eu-1"), name: "Acme", json: false })],
    ["vendor list --json", ["vendor", "list", "--json"], Command.VendorList({ json: true })],
    ["gateway create, defaults", ["gateway", "create", "--vendor", "v1", "--id", "g1", "--name", "Edge"],
      Command.GatewayCreate({ vendorId: v("v1"), id: g("g1"), name: "Edge", rateLimitPerSec: Option.none(), signingSecret: false, json: false })],
    ["gateway create, all options in any order",
      ["gateway", "create", "--signing-secret", "--rate-limit", "500", "--name", "Edge", "--id", "g1", "--vendor=v1", "--json"],
      Command.GatewayCreate({ vendorId: v("v1"), id: g("g1"), name: "Edge", rateLimitPerSec: Option.some(500), signingSecret: true, json: true })],
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
      Command.VendorCreate({ id: v("v1"), name: "-dash-", json: false })]
  ]
  for (const [title, argv, expected] of cases) {
    it(title, () => {
      expect(parsed(argv)).toEqual(expected)
    })
  }
})

describe("parseCommand: rejected command lines name the argument and the problem", () => {
  const idRule = "must be 1-128 characters: letters, digits, \".\", \"_\", \":\" or \"-\", starting with a letter or digit"
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
    [["frobnicate"], "unknown command \"frobnicate\""],
    [["help", "frobnicate"], "unknown command \"frobnicate\""],
    [["vendor"], "missing subcommand for \"vendor\"; expected one of: create, list"],
    [["vendor", "delete"], "unknown command \"vendor delete\"; expected one of: create, list"],
    [["vendor", "create", "--name", "Acme"], "missing required option --id <id>"],
    [["vendor", "create", "--id", "v1"], "missing required option --name <name>"],
    [["vendor", "create", "--id", "bad id", "--name", "x"], `--id "bad id": ${idRule}`],
    [["vendor", "create", "--id", "-v1", "--name", "x"], `--id "-v1": ${idRule}`],
    [["vendor", "create", "--id", "x".repeat(129), "--name", "x"], `--id "${"x".repeat(129)}": ${idRule}`],
    [["vendor", "create", "--id", "v1", "--name", "  "], "--name: must not be empty"],
    [["vendor", "create", "--id", "v1", "--name"], "option --name needs a value <name>"],
    [["vendor", "create", "--id", "--name", "x"], "option --id needs a value <id>"],
    [["vendor", "create", "--id", "v1", "--id", "v2", "--name", "x"], "option --id is given more than once"],
    [["vendor", "create", "--id", "v1", "--name", "x", "--colour", "red"], "unknown option --colour for \"vendor create\""],
    [["vendor", "create", "v1"], "unexpected argument \"v1\""],
    [["vendor", "list", "--json=yes"], "option --json takes no value"],
    [["gateway", "create", "--id", "g1", "--name", "x"], "missing required option --vendor <vendorId>"],
    [["gateway", "create", "--id", "g1"], "missing required options --vendor <vendorId> and --name <name>"],
    [["gateway", "create"], "missing required options --vendor <vendorId>, --id <id> and --name <name>"],
    [["gateway", "create", "--vendor", "v 1", "--id", "g1", "--name", "x"], `--vendor "v 1": ${idRule}`],
    [["gateway", "create", "--vendor", "v1", "--id", "g1", "--name", "x", "--rate-limit", "0"],
      "--rate-limit \"0\": must be a whole number of events per second from 1 to 1000000"],
    [["gateway", "create", "--vendor", "v1", "--id", "g1", "--name", "x", "--rate-limit", "12.5"],
      "--rate-limit \"12.5\": must be a whole number of events per second from 1 to 1000000"],
    [["gateway", "create", "--vendor", "v1", "--id", "g1", "--name", "x", "--signing-secret=yes"],
      "option --signing-secret takes no value"],
    [["gateway", "rotate-key"], "missing required option --id <id>"],
    [["agent", "create", "--id", "a1", "--wallet", "0x 12"], "--wallet \"0x 12\": must be 1-256 printable characters without spaces"],
    [["token", "mint"], "missing required option --role <vendor|agent|admin>"],
    [["token", "mint", "--role", "root"], "--role \"root\": must be one of vendor, agent, admin"],
    [["token", "mint", "--role", "vendor"], "--role vendor needs --vendor <vendorId>"],
    [["token", "mint", "--role", "agent", "--vendor", "v1"], "--vendor cannot be used with --role agent"],
    [["token", "mint", "--role", "admin", "--agent", "a1"], "--agent cannot be used with --role admin"],
    [["token", "mint", "--role", "admin", "--ttl", "31d"], "--ttl \"31d\": must be at most 30d"],
    [["token", "mint", "--role", "admin", "--ttl", "721h"], "--ttl \"721h\": must be at most 30d"],
    [["token", "mint", "--role", "admin", "--ttl", "24"],
      "--ttl \"24\": must be a positive number followed by m, h or d (e.g. 30m, 24h, 7d)"],
    [["token", "mint", "--role", "admin", "--ttl", "0h"],
      "--ttl \"0h\": must be a positive number followed by m, h or d (e.g. 30m, 24h, 7d)"]
  ]
  for (const [argv, message] of cases) {
    it(argv.join(" ") || "(empty)", () => {
      expect(failure(argv).message).toBe(message)
    })
  }

  it("hints with the command's usage", () => {
    const error = failure(["gateway", "create", "--vendor", "v1"])
    expect(error.hint).toContain("usage: npm run cli -- gateway create --vendor <vendorId> --id <id> --name <name>")
    expect(error.hint).toContain("[--rate-limit <events/s>] [--signing-secret]")
  })

  it("hints at help for an unknown command", () => {
    expect(failure(["frobnicate"]).hint).toBe("run `npm run cli -- help` for usage")
  })
})

describe("helpText", () => {
  it("lists every command with its options", () => {
    const text = helpText([])
    for (const line of [
      "vendor create --id <id> --name <name>",
      "vendor list",
      "gateway create --vendor <vendorId> --id <id> --name <name> [--rate-limit <events/s>] [--signing-secret]",
      "gateway rotate-key --id <id>",
      "gateway list [--vendor <vendorId>]",
      "gateway disable --id <id>",
      "agent create --id <id> [--name <name>] [--wallet <address>]",
      "agent list",
      "token mint --role <vendor|agent|admin> [--vendor <vendorId>] [--agent <agentId>] [--subject <name>] [--ttl <duration>]",
      "--json"
    ]) {
      expect(text).toContain(line)
    }
  })

  it("narrows to a group or a command", () => {
    expect(helpText(["agent"])).toContain("agent create")
    expect(helpText(["agent"])).not.toContain("vendor create")
    expect(helpText(["token", "mint"])).toContain("at most 30d")
  })
})
