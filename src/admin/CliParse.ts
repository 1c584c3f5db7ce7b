/**
 * argv → `Command`, and the usage text. Pure: no effects, so the whole grammar is
 * table-tested. Options are `--name value` or `--name=value`; switches take no value.
 */
import { Either, Option } from "effect"
import * as Check from "./CliArgs.js"
import { CLI, CliError, HELP_HINT } from "./CliError.js"
import { Command, type TokenPrincipal } from "./Command.js"

export const DEFAULT_TTL_SECONDS = 24 * 3600

interface OptionSpec {
  readonly name: string
  /** Placeholder of the value; absent for a switch. */
  readonly arg?: string
  readonly required?: boolean
  readonly help: string
}

interface Input {
  readonly json: boolean
  readonly has: (name: string) => boolean
  readonly required: <A>(name: string, check: Check.Check<A>) => Either.Either<A, string>
  readonly optional: <A>(name: string, check: Check.Check<A>) => Either.Either<Option.Option<A>, string>
}

interface CommandSpec {
  readonly group: string
  readonly name: string
  readonly summary: string
  readonly options: ReadonlyArray<OptionSpec>
  readonly build: (input: Input) => Either.Either<Command, string>
}

const id = (help: string): OptionSpec => ({ name: "id", arg: "id", required: true, help })

const specs: ReadonlyArray<CommandSpec> = [
  {
    group: "vendor",
    name: "create",
    summary: "create a vendor",
    options: [id("new vendor id"), { name: "name", arg: "name", required: true, help: "display name" }],
    build: (i) =>
      Either.all({ id: i.required("id", Check.vendorId), name: i.required("name", Check.text(200)) }).pipe(
        Either.map((a) => Command.VendorCreate({ ...a, json: i.json }))
      )
  },
  { group: "vendor", name: "list", summary: "list vendors", options: [], build: (i) => Either.right(Command.VendorList({ json: i.json })) },
  {
    group: "gateway",
    name: "create",
    summary: "create a gateway; prints its ingest key once",
    options: [
      { name: "vendor", arg: "vendorId", required: true, help: "vendor that owns the gateway" },
      id("new gateway id"),
      { name: "name", arg: "name", required: true, help: "display name" },
      { name: "rate-limit", arg: "events/s", help: `ingest quota (1-${Check.MAX_RATE_LIMIT}); default: the server's` },
      { name: "signing-secret", help: "also generate an HMAC request-signing secret (printed once)" }
    ],
    build: (i) =>
      Either.all({
        vendorId: i.required("vendor", Check.vendorId),
        id: i.required("id", Check.gatewayId),
        name: i.required("name", Check.text(200)),
        rateLimitPerSec: i.optional("rate-limit", Check.rateLimit)
      }).pipe(Either.map((a) => Command.GatewayCreate({ ...a, signingSecret: i.has("signing-secret"), json: i.json })))
  },
  {
    group: "gateway",
    name: "rotate-key",
    summary: "issue a new ingest key; the old one stops working",
    options: [id("gateway id")],
    build: (i) => Either.map(i.required("id", Check.gatewayId), (id) => Command.GatewayRotateKey({ id, json: i.json }))
  },
  {
    group: "gateway",
    name: "list",
    summary: "list gateways (key prefixes only)",
    options: [{ name: "vendor", arg: "vendorId", help: "only this vendor's gateways" }],
    build: (i) => Either.map(i.optional("vendor", Check.vendorId), (vendorId) => Command.GatewayList({ vendorId, json: i.json }))
  },
  {
    group: "gateway",
    name: "disable",
    summary: "refuse the gateway's events from now on",
    options: [id("gateway id")],
    build: (i) => Either.map(i.required("id", Check.gatewayId), (id) => Command.GatewayDisable({ id, json: i.json }))
  },
  {
    group: "gateway",
    name: "enable",
    summary: "accept a disabled gateway's events again",
    options: [id("gateway id")],
    build: (i) => Either.map(i.required("id", Check.gatewayId), (id) => Command.GatewayEnable({ id, json: i.json }))
  },
  {
    group: "agent",
    name: "create",
    summary: "create an agent",
    options: [
      id("new agent id"),
      { name: "name", arg: "name", help: "display name" },
      { name: "wallet", arg: "address", help: "wallet address" }
    ],
    build: (i) =>
      Either.all({
        id: i.required("id", Check.agentId),
        name: i.optional("name", Check.text(200)),
        wallet: i.optional("wallet", Check.wallet)
      }).pipe(Either.map((a) => Command.AgentCreate({ ...a, json: i.json })))
  },
  { group: "agent", name: "list", summary: "list agents", options: [], build: (i) => Either.right(Command.AgentList({ json: i.json })) },
  {
    group: "token",
    name: "mint",
    summary: "print a development console token (JWT, HS256)",
    options: [
      { name: "role", arg: "vendor|agent|admin", required: true, help: "what the token may see" },
      { name: "vendor", arg: "vendorId", help: "the vendor (with --role vendor)" },
      { name: "agent", arg: "agentId", help: "the agent (with --role agent)" },
      { name: "subject", arg: "name", help: "token subject (default: the vendor/agent id, or \"admin\")" },
      { name: "ttl", arg: "duration", help: "lifetime: 30m, 24h (default), 7d; at most 30d" }
    ],
    build: (i) => buildTokenMint(i)
  }
]

const buildTokenMint = (i: Input): Either.Either<Command, string> =>
  Either.gen(function*() {
    const role = yield* i.required("role", Check.oneOf("vendor", "agent", "admin"))
    const vendor = yield* i.optional("vendor", Check.vendorId)
    const agent = yield* i.optional("agent", Check.agentId)
    const subject = Option.getOrUndefined(yield* i.optional("subject", Check.text(128)))
    const ttlSeconds = Option.getOrElse(yield* i.optional("ttl", Check.ttl), () => DEFAULT_TTL_SECONDS)
    const forbid = (name: string) => Either.left(`--${name} cannot be used with --role ${role}`)
    const bySubject = subject === undefined ? {} : { subject }
    let principal: TokenPrincipal
    switch (role) {
      case "vendor":
        if (Option.isSome(agent)) return yield* forbid("agent")
        if (Option.isNone(vendor)) return yield* Either.left("--role vendor needs --vendor <vendorId>")
        principal = { role, vendorId: vendor.value, ...bySubject }
        break
      case "agent":
        if (Option.isSome(vendor)) return yield* forbid("vendor")
        if (Option.isNone(agent)) return yield* Either.left("--role agent needs --agent <agentId>")
        principal = { role, agentId: agent.value, ...bySubject }
        break
      case "admin":
        if (Option.isSome(vendor)) return yield* forbid("vendor")
        if (Option.isSome(agent)) return yield* forbid("agent")
        principal = { role, subject: subject ?? "admin" }
    }
    return Command.TokenMint({ principal, ttlSeconds, json: i.json })
  })

const groups = [...new Set(specs.map((s) => s.group))]

// ---------------------------------------------------------------------------- usage

const optionUsage = (o: OptionSpec): string => {
  const text = o.arg === undefined ? `--${o.name}` : `--${o.name} <${o.arg}>`
  return o.required === true ? text : `[${text}]`
}

const commandLine = (s: CommandSpec): string => [s.group, s.name, ...s.options.map(optionUsage)].join(" ")

const commandUsage = (s: CommandSpec): string =>
  [
    `usage: ${CLI} ${commandLine(s)}`,
    `  ${s.summary}`,
    ...s.options.map((o) => `    ${(o.arg === undefined ? `--${o.name}` : `--${o.name} <${o.arg}>`).padEnd(32)} ${o.help}`)
  ].join("\n")

const groupUsage = (group: string): string => specs.filter((s) => s.group === group).map(commandUsage).join("\n\n")

const overview = (): string =>
  [
    "MachPay Telemetry administration",
    "",
    `usage: ${CLI} <command> [options]`,
    "",
    "commands:",
    ...specs.map((s) => `  ${commandLine(s)}\n      ${s.summary}`),
    "",
    "  jobs run <rollup|partitions|retention|archive> [--dry-run]",
    "      run a scheduled job once, now (--dry-run: say what it would do, change nothing)",
    "",
    "every command accepts:",
    "  --json          print JSON for scripts instead of text",
    "  --help, -h      show the command's usage",
    "",
    "ids: 1-128 characters: letters, digits, \".\", \"_\", \":\" or \"-\", starting with a letter or digit.",
    "environment: DATABASE_URL (default: the embedded PostgreSQL in DATA_DIR), DATA_DIR,",
    "  JWT_SECRET (token mint; default: a development secret kept in DATA_DIR/dev-jwt-secret)."
  ].join("\n")

/** Help for `[]`, `[group]` or `[group, command]`; the topic is assumed valid (see `parseCommand`). */
export const helpText = (topic: ReadonlyArray<string>): string => {
  const [group, name] = topic
  const spec = specs.find((s) => s.group === group && s.name === name)
  return spec !== undefined ? commandUsage(spec) : group !== undefined && groups.includes(group) ? groupUsage(group) : overview()
}

// ---------------------------------------------------------------------------- parsing

/** Accepted by every command. */
const JSON_OPTION: OptionSpec = { name: "json", help: "print JSON for scripts instead of text" }

const fail = (message: string, hint: string): Either.Either<never, CliError> => Either.left(new CliError({ message, hint }))

const commandsOf = (group: string): string =>
  specs.filter((s) => s.group === group).map((s) => s.name).join(", ")

/** Resolves leading words to a help topic, or says which word is unknown. */
const resolveTopic = (words: ReadonlyArray<string>): Either.Either<ReadonlyArray<string>, CliError> => {
  const [group, name, extra] = words
  if (group === undefined) return Either.right([])
  if (!groups.includes(group)) return fail(`unknown command ${JSON.stringify(group)}`, HELP_HINT)
  if (name === undefined) return Either.right([group])
  if (!specs.some((s) => s.group === group && s.name === name)) {
    return fail(`unknown command "${group} ${name}"; expected one of: ${commandsOf(group)}`, groupUsage(group))
  }
  if (extra !== undefined) return fail(`unexpected argument ${JSON.stringify(extra)}`, helpText([group, name]))
  return Either.right([group, name])
}

const parseOptions = (spec: CommandSpec, tokens: ReadonlyArray<string>): Either.Either<Command, CliError> => {
  const usage = commandUsage(spec)
  const values = new Map<string, string>()
  const switches = new Set<string>()
  const known = [...spec.options, JSON_OPTION]
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index] ?? ""
    if (!token.startsWith("--") || token === "--") return fail(`unexpected argument ${JSON.stringify(token)}`, usage)
    const eq = token.indexOf("=")
    const name = token.slice(2, eq === -1 ? undefined : eq)
    const inline = eq === -1 ? undefined : token.slice(eq + 1)
    const option = known.find((o) => o.name === name)
    if (option === undefined) return fail(`unknown option --${name} for "${spec.group} ${spec.name}"`, usage)
    if (values.has(name) || switches.has(name)) return fail(`option --${name} is given more than once`, usage)
    if (option.arg === undefined) {
      if (inline !== undefined) return fail(`option --${name} takes no value`, usage)
      switches.add(name)
      continue
    }
    const next = tokens[index + 1]
    const value = inline ?? (next === undefined || next.startsWith("--") ? undefined : next)
    if (value === undefined) return fail(`option --${name} needs a value <${option.arg}>`, usage)
    if (inline === undefined) index++
    values.set(name, value)
  }
  const missing = spec.options.filter((o) => o.required === true && !values.has(o.name)).map(optionUsage)
  if (missing.length > 0) {
    const list = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(", ")} and ${missing.at(-1)}`
    return fail(`missing required option${missing.length === 1 ? "" : "s"} ${list}`, usage)
  }
  const lookup = <A>(name: string, check: Check.Check<A>): Option.Option<Either.Either<A, string>> =>
    Option.map(Option.fromNullable(values.get(name)), (raw) => check(name, raw))
  const input: Input = {
    json: switches.has(JSON_OPTION.name),
    has: (name) => switches.has(name),
    required: (name, check) =>
      Option.getOrElse(lookup(name, check), () => {
        const arg = spec.options.find((o) => o.name === name)?.arg ?? "value"
        return Either.left(`missing required option --${name} <${arg}>`)
      }),
    optional: (name, check) =>
      Option.match(lookup(name, check), {
        onNone: () => Either.right(Option.none()),
        onSome: Either.map(Option.some)
      })
  }
  return Either.mapLeft(spec.build(input), (message) => new CliError({ message, hint: usage }))
}

export const parseCommand = (argv: ReadonlyArray<string>): Either.Either<Command, CliError> => {
  if (argv.includes("--help") || argv.includes("-h")) {
    const firstOption = argv.findIndex((arg) => arg.startsWith("-"))
    const words = argv.slice(0, firstOption)
    return Either.map(resolveTopic(words[0] === "help" ? words.slice(1) : words.slice(0, 2)), (topic) => Command.Help({ topic }))
  }
  const [group, name] = argv
  if (group === undefined) return Either.right(Command.Help({ topic: [] }))
  if (group === "help") return Either.map(resolveTopic(argv.slice(1)), (topic) => Command.Help({ topic }))
  if (!groups.includes(group)) return fail(`unknown command ${JSON.stringify(group)}`, HELP_HINT)
  if (name === undefined || name.startsWith("-")) {
    return fail(`missing subcommand for "${group}"; expected one of: ${commandsOf(group)}`, groupUsage(group))
  }
  const spec = specs.find((s) => s.group === group && s.name === name)
  if (spec === undefined) {
    return fail(`unknown command "${group} ${name}"; expected one of: ${commandsOf(group)}`, groupUsage(group))
  }
  return parseOptions(spec, argv.slice(2))
}
