/**
 * The `cli` command tree on `@effect/cli`: vendors, gateways, agents, development tokens and
 * `jobs run`. `@effect/cli` parses (`--name value` or `--name=value`, switches, `--help` at
 * every level, generated help and usage); this module only says which commands and options
 * exist and checks the values. Each leaf hands a validated `Command` to `run`, so the grammar
 * is tested with a recording `run` and the root (`src/main.ts`) decides how commands execute.
 *
 * Value checks fail as `ValidationError`s whose message starts with the option name, so every
 * error tells the user which argument is wrong. Ids use the wire contract's schemas: an id the
 * CLI accepts is one events may carry.
 */
import { Args, Command as Cli, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Effect, Either, Option, ParseResult, Schema } from "effect"
import { AgentId, GatewayId, VendorId } from "../../schema/Ids.js"
import { type JobName, JobNames } from "../jobs/JobsConfig.js"
import { CLI, CliError, HELP_HINT } from "./CliError.js"
import { Command, type TokenPrincipal } from "./Command.js"

export const DEFAULT_TTL_SECONDS = 24 * 3600
export const MAX_RATE_LIMIT = 1_000_000
/** 1 TiB/s: beyond any link, and exact in a double. */
export const MAX_BYTE_RATE_LIMIT = 2 ** 40
const UNIT_SECONDS = { m: 60, h: 3600, d: 86_400 } as const
export const MAX_TTL_SECONDS = 30 * UNIT_SECONDS.d

// ---------------------------------------------------------------------------- value checks

/** A raw option value → the value, or what is wrong with it (without the option name). */
type Check<A> = (raw: string) => Either.Either<A, string>

const quote = (raw: string): string => JSON.stringify(raw)

const fromSchema = <A>(schema: Schema.Schema<A, string>): Check<A> => (raw) =>
  Schema.decodeUnknownEither(schema)(raw).pipe(
    Either.mapLeft((error) => `${quote(raw)}: ${ParseResult.ArrayFormatter.formatErrorSync(error)[0]?.message ?? "is not valid"}`)
  )

const CONTROL = /[\u0000-\u001f\u007f]/

/** Free text shown to people (names, subjects): trimmed, non-empty, one line, bounded. */
const text = (max: number): Check<string> => (raw) => {
  const value = raw.trim()
  if (value.length === 0) return Either.left(": must not be empty")
  if (value.length > max) return Either.left(`: must be at most ${max} characters`)
  if (CONTROL.test(value)) return Either.left(": must not contain control characters")
  return Either.right(value)
}

/** A wallet address in whatever chain's notation: one token without spaces. */
const wallet: Check<string> = (raw) =>
  /^[\x21-\x7e]{1,256}$/.test(raw) ? Either.right(raw) : Either.left(`${quote(raw)}: must be 1-256 printable characters without spaces`)

const rateLimit: Check<number> = (raw) => {
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN
  return n >= 1 && n <= MAX_RATE_LIMIT
    ? Either.right(n)
    : Either.left(`${quote(raw)}: must be a whole number of events per second from 1 to ${MAX_RATE_LIMIT}`)
}

const byteRateLimit: Check<number> = (raw) => {
  const n = /^\d{1,13}$/.test(raw) ? Number(raw) : Number.NaN
  return n >= 1 && n <= MAX_BYTE_RATE_LIMIT
    ? Either.right(n)
    : Either.left(`${quote(raw)}: must be a whole number of bytes per second from 1 to ${MAX_BYTE_RATE_LIMIT}`)
}

/** `30m`, `24h`, `7d`: a positive whole number and a unit, at most 30 days. */
const ttl: Check<number> = (raw) => {
  const match = /^(\d{1,6})([mhd])$/.exec(raw)
  const amount = Number(match?.[1])
  const unit = match?.[2]
  if ((unit !== "m" && unit !== "h" && unit !== "d") || !(amount > 0)) {
    return Either.left(`${quote(raw)}: must be a positive number followed by m, h or d (e.g. 30m, 24h, 7d)`)
  }
  const seconds = amount * UNIT_SECONDS[unit]
  return seconds <= MAX_TTL_SECONDS ? Either.right(seconds) : Either.left(`${quote(raw)}: must be at most 30d`)
}

const oneOf = <const L extends ReadonlyArray<string>>(...values: L): Check<L[number]> => (raw) => {
  const found = values.find((value) => value === raw)
  return found === undefined ? Either.left(`${quote(raw)}: must be one of ${values.join(", ")}`) : Either.right(found)
}

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/** `--name <placeholder>`, checked: a bad value fails as `--name "raw": what is wrong`. */
const option = <A>(name: string, placeholder: string, check: Check<A>, description: string): Options.Options<A> =>
  Options.text(name).pipe(
    Options.withPseudoName(placeholder),
    Options.withDescription(description),
    Options.mapEffect((raw) =>
      Either.match(check(raw), {
        onLeft: (problem) => Effect.fail(invalid(`--${name}${problem.startsWith(":") ? "" : " "}${problem}`)),
        onRight: Effect.succeed
      })
    )
  )

const id = <A>(check: Check<A>, description: string) => option("id", "id", check, description)
const json = Options.boolean("json").pipe(Options.withDescription("print JSON for scripts instead of text"))

// ---------------------------------------------------------------------------- the tree

const tokenPrincipal = (a: {
  readonly role: "vendor" | "agent" | "admin"
  readonly vendor: Option.Option<VendorId>
  readonly agent: Option.Option<AgentId>
  readonly subject: Option.Option<string>
}): Either.Either<TokenPrincipal, string> => {
  const { agent, role, vendor } = a
  const subject = Option.getOrUndefined(a.subject)
  const bySubject = subject === undefined ? {} : { subject }
  const forbid = (name: string) => Either.left(`--${name} cannot be used with --role ${role}`)
  switch (role) {
    case "vendor":
      if (Option.isSome(agent)) return forbid("agent")
      if (Option.isNone(vendor)) return Either.left("--role vendor needs --vendor <vendorId>")
      return Either.right({ role, vendorId: vendor.value, ...bySubject })
    case "agent":
      if (Option.isSome(vendor)) return forbid("vendor")
      if (Option.isNone(agent)) return Either.left("--role agent needs --agent <agentId>")
      return Either.right({ role, agentId: agent.value, ...bySubject })
    case "admin":
      if (Option.isSome(vendor)) return forbid("vendor")
      if (Option.isSome(agent)) return forbid("agent")
      return Either.right({ role, subject: subject ?? "admin" })
  }
}

/** The command groups under `cli`, as in the tree below (test/admin/CliParse.test.ts checks each has help). */
const GROUPS = ["vendor", "gateway", "agent", "token", "jobs"] as const

/**
 * `cli …`: every administration command. `run` receives the validated `Command`; a group
 * given without a command (`cli`, `cli gateway`) prints its generated help.
 */
export const adminCommand = <E, R>(run: (command: Command) => Effect.Effect<void, E, R>) => {
  const vendorId = fromSchema(VendorId)
  const gatewayId = fromSchema(GatewayId)
  const agentId = fromSchema(AgentId)
  const name = option("name", "name", text(200), "display name")

  const vendor = Cli.make("vendor").pipe(
    Cli.withDescription("vendors"),
    Cli.withSubcommands([
      Cli.make("create", { id: id(vendorId, "new vendor id"), name, json }, (a) => run(Command.VendorCreate(a))).pipe(
        Cli.withDescription("create a vendor")
      ),
      Cli.make("list", { json }, (a) => run(Command.VendorList(a))).pipe(Cli.withDescription("list vendors"))
    ])
  )

  const gatewayById = (verb: string, description: string, make: (a: { id: GatewayId; json: boolean }) => Command) =>
    Cli.make(verb, { id: id(gatewayId, "gateway id"), json }, (a) => run(make(a))).pipe(Cli.withDescription(description))

  const gateway = Cli.make("gateway").pipe(
    Cli.withDescription("gateways and their ingest keys"),
    Cli.withSubcommands([
      Cli.make("create", {
        vendorId: option("vendor", "vendorId", vendorId, "vendor that owns the gateway"),
        id: id(gatewayId, "new gateway id"),
        name,
        rateLimitPerSec: Options.optional(option("rate-limit", "events/s", rateLimit, `ingest quota (1-${MAX_RATE_LIMIT}); default: the server's`)),
        rateLimitBytesPerSec: Options.optional(
          option("byte-rate-limit", "bytes/s", byteRateLimit, `ingest quota of body bytes (1-${MAX_BYTE_RATE_LIMIT}); default: the server's`)
        ),
        signingSecret: Options.boolean("signing-secret").pipe(
          Options.withDescription("also generate an HMAC request-signing secret (printed once)")
        ),
        json
      }, (a) => run(Command.GatewayCreate(a))).pipe(Cli.withDescription("create a gateway; prints its ingest key once")),
      gatewayById("rotate-key", "issue a new ingest key; the old one stops working", Command.GatewayRotateKey),
      Cli.make("list", {
        vendorId: Options.optional(option("vendor", "vendorId", vendorId, "only this vendor's gateways")),
        json
      }, (a) => run(Command.GatewayList(a))).pipe(Cli.withDescription("list gateways (key prefixes only)")),
      gatewayById("disable", "refuse the gateway's events from now on", Command.GatewayDisable),
      gatewayById("enable", "accept a disabled gateway's events again", Command.GatewayEnable)
    ])
  )

  const agent = Cli.make("agent").pipe(
    Cli.withDescription("agents"),
    Cli.withSubcommands([
      Cli.make("create", {
        id: id(agentId, "new agent id"),
        name: Options.optional(name),
        wallet: Options.optional(option("wallet", "address", wallet, "wallet address")),
        json
      }, (a) => run(Command.AgentCreate(a))).pipe(Cli.withDescription("create an agent")),
      Cli.make("list", { json }, (a) => run(Command.AgentList(a))).pipe(Cli.withDescription("list agents"))
    ])
  )

  const token = Cli.make("token").pipe(
    Cli.withDescription("development console tokens"),
    Cli.withSubcommands([
      Cli.make("mint", {
        role: option("role", "vendor|agent|admin", oneOf("vendor", "agent", "admin"), "what the token may see"),
        vendor: Options.optional(option("vendor", "vendorId", vendorId, "the vendor (with --role vendor)")),
        agent: Options.optional(option("agent", "agentId", agentId, "the agent (with --role agent)")),
        subject: Options.optional(option("subject", "name", text(128), "token subject (default: the vendor/agent id, or \"admin\")")),
        ttl: Options.optional(option("ttl", "duration", ttl, "lifetime: 30m, 24h (default), 7d; at most 30d")),
        json
      }, (a): Effect.Effect<void, E | CliError, R> =>
        Either.match(tokenPrincipal(a), {
          // Options that are each valid but do not go together: reported like a parse error.
          onLeft: (message) => Effect.fail(new CliError({ message, hint: `run \`${CLI} token mint --help\` for usage` })),
          onRight: (principal) =>
            run(Command.TokenMint({ principal, ttlSeconds: Option.getOrElse(a.ttl, () => DEFAULT_TTL_SECONDS), json: a.json }))
        })).pipe(Cli.withDescription("print a development console token (JWT, HS256)"))
    ])
  )

  const jobs = Cli.make("jobs").pipe(
    Cli.withDescription("scheduled jobs"),
    Cli.withSubcommands([
      Cli.make("run", {
        job: Args.choice(JobNames.map((job): [string, JobName] => [job, job]), { name: "job" }).pipe(Args.withDescription("the job to run")),
        dryRun: Options.boolean("dry-run").pipe(Options.withDescription("say what it would do, change nothing"))
      }, (a) => run(Command.JobRun(a))).pipe(Cli.withDescription("run a scheduled job once, now"))
    ])
  )

  return Cli.make("cli").pipe(
    Cli.withDescription(
      "MachPay Telemetry administration. Ids: 1-128 characters: letters, digits, \".\", \"_\", \":\" or \"-\", starting " +
        "with a letter or digit. Environment: DATABASE_URL (default: the embedded PostgreSQL in DATA_DIR), DATA_DIR, " +
        "JWT_SECRET (token mint; default: a development secret kept in DATA_DIR/dev-jwt-secret)."
    ),
    Cli.withSubcommands([vendor, gateway, agent, token, jobs])
  )
}

/** The app `@effect/cli` runs the tree as (the title and version of the generated help). */
export const CLI_APP = { name: "MachPay Telemetry", version: "0.1.0" } as const

/**
 * Two things `@effect/cli` 0.77 does not do the way this CLI always has, settled before it parses:
 * `help [group [command]]` (what `npm run cli -- help` has always meant) and `--help`/`-h`
 * anywhere on a command line show the help of the command named before the first option
 * (`@effect/cli` reports missing options instead once some are given); an option given twice
 * is refused by name (`@effect/cli` reports another option as missing). Every other command
 * line is left as it is.
 */
export const adminArgv = (argv: ReadonlyArray<string>): Either.Either<ReadonlyArray<string>, CliError> => {
  const [first, topic] = argv
  // `@effect/cli` shows the parent's help for `frobnicate --help`; `help frobnicate` has always been refused.
  if (first === "help" && topic !== undefined && !topic.startsWith("-") && !(GROUPS as ReadonlyArray<string>).includes(topic)) {
    return Either.left(new CliError({ message: `unknown command ${quote(topic)}`, hint: HELP_HINT }))
  }
  const words = first === "help" ? [...argv.slice(1), "--help"] : argv
  if (words.includes("--help") || words.includes("-h")) {
    const firstOption = words.findIndex((word) => word.startsWith("-"))
    return Either.right([...words.slice(0, firstOption), "--help"])
  }
  const names = words.filter((word) => word.startsWith("--")).map((word) => word.split("=", 1)[0]!)
  const repeated = names.find((name, index) => names.indexOf(name) !== index)
  return repeated === undefined
    ? Either.right(words)
    : Either.left(new CliError({ message: `option ${repeated} is given more than once`, hint: HELP_HINT }))
}
