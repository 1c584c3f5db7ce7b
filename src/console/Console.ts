/**
 * The console feature as one layer: the three handler groups, their repositories, their bearer
 * middleware and settings. Needs the database (`SqlClient`, `DatabaseStatus`) and
 * `AppSettingsService` (for the development JWT secret's location) from the root.
 *
 * The handler groups reach the database only through the repository tags (`…Repo`), so
 * `ConsoleGroupsLive` can be served over `Layer.mock` repositories in tests (test/console/handlers).
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
import { AgentRepoLive } from "./AgentRepo.js"
import { ConsumersRepoLive } from "./ConsumersRepo.js"
import { EndpointsRepoLive } from "./EndpointsRepo.js"
import { GatewayHealthRepoLive } from "./GatewayHealthRepo.js"
import { ListsRepoLive } from "./ListsRepo.js"
import { MetricsRepoLive } from "./MetricsRepo.js"
import { RejectionsRepoLive } from "./RejectionsRepo.js"
import { VendorRepoLive } from "./VendorRepo.js"

/** Every console repository over the `SqlClient`. */
export const ConsoleReposLive = Layer.mergeAll(
  VendorRepoLive,
  ConsumersRepoLive,
  EndpointsRepoLive,
  ListsRepoLive,
  MetricsRepoLive,
  RejectionsRepoLive,
  AgentRepoLive,
  GatewayHealthRepoLive
)

/** The handler groups without their repositories (tests provide `Layer.mock` ones). */
export const ConsoleGroupsLive = Layer.mergeAll(
  VendorConsoleHttpLive,
  AgentConsoleHttpLive,
  AdminConsoleHttpLive,
  ConsoleFailuresLive,
  ConsoleCorsLive
).pipe(
  Layer.provide(ConsoleSettingsService.Live),
  Layer.provide(CursorKeyLive)
)

/** The handler groups on the live repositories; they still need the bearer middleware (`AuthenticationLive`). */
export const ConsoleHandlersLive = ConsoleGroupsLive.pipe(Layer.provide(ConsoleReposLive))

export const ConsoleHttpLive = ConsoleHandlersLive.pipe(Layer.provide(AuthLive), Layer.provide(JwtSecretLive))
