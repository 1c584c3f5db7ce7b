/**
 * The whole HTTP contract: every group the service serves. Handlers live beside each feature;
 * the typed client (`HttpApiClient.make(Api)`) and the OpenAPI document come from this value.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as OpenApi from "@effect/platform/OpenApi"
import { AdminConsoleApi, AgentConsoleApi, VendorConsoleApi } from "../console/Api.js"
import { HealthApi } from "../health/Api.js"
import { IngestApi } from "../ingest/Api.js"
import { ObservabilityApi } from "../observability/Api.js"
import { RealtimeApi } from "../realtime/Api.js"
import { InternalError } from "./Errors.js"

/** Served by every process: health, readiness and metrics. */
const Operations = HttpApi.make("machpay-telemetry").addError(InternalError).add(HealthApi).add(ObservabilityApi)

const TITLE = "MachPay Telemetry"
/** The API's version in the OpenAPI document: the package's (a test keeps them equal). */
export const API_VERSION = "0.1.0"
const DESCRIPTION = "Ingest, live stream and console API for MachPay gateways."

export class Api extends Operations
  .add(IngestApi)
  .add(RealtimeApi)
  .add(VendorConsoleApi)
  .add(AgentConsoleApi)
  .add(AdminConsoleApi)
  .annotate(OpenApi.Title, TITLE)
  .annotate(OpenApi.Version, API_VERSION)
  .annotate(OpenApi.Description, DESCRIPTION) {}

/**
 * What a process serves, by role (ROLES): `receiver` adds ingest, `api` adds the live stream
 * and the consoles; a worker serves only health and metrics. Same groups, same paths as `Api`.
 */
export const ReceiverApi = Operations.add(IngestApi)
  .annotate(OpenApi.Title, TITLE)
  .annotate(OpenApi.Version, API_VERSION)
  .annotate(OpenApi.Description, DESCRIPTION)
export const ConsoleApi = Operations.add(RealtimeApi).add(VendorConsoleApi).add(AgentConsoleApi).add(AdminConsoleApi)
  .annotate(OpenApi.Title, TITLE)
  .annotate(OpenApi.Version, API_VERSION)
  .annotate(OpenApi.Description, DESCRIPTION)
export const OperationsApi = Operations.annotate(OpenApi.Title, TITLE).annotate(OpenApi.Version, API_VERSION)
  .annotate(OpenApi.Description, DESCRIPTION)
