/**
 * The console feature as one layer: the three handler groups, their bearer middleware and
 * settings. Needs the database (`SqlClient`, `DatabaseStatus`) and `AppSettingsService` (for
 * the development JWT secret's location) from the root.
 */
import { Layer } from "effect"
import { JwtSecretLive } from "../auth/JwtSecret.js"
import { AuthLive } from "../auth/AuthenticationLive.js"
import { AdminConsoleHttpLive } from "./AdminHttp.js"
import { AgentConsoleHttpLive } from "./AgentHttp.js"
import { ConsoleSettingsService } from "./ConsoleConfig.js"
import { ConsoleCorsLive } from "./Cors.js"
import { CursorKeyLive } from "./Cursor.js"
import { ConsoleFailuresLive } from "./Failures.js"
import { VendorConsoleHttpLive } from "./VendorHttp.js"

/** The handler groups; they still need the bearer middleware (`AuthenticationLive`). */
export const ConsoleHandlersLive = Layer.mergeAll(
  VendorConsoleHttpLive,
  AgentConsoleHttpLive,
  AdminConsoleHttpLive,
  ConsoleFailuresLive,
  ConsoleCorsLive
).pipe(
  Layer.provide(ConsoleSettingsService.Live),
  Layer.provide(CursorKeyLive)
)

export const ConsoleHttpLive = ConsoleHandlersLive.pipe(Layer.provide(AuthLive), Layer.provide(JwtSecretLive))
