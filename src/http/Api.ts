/**
 * The whole HTTP contract: every group the service serves. Handlers live beside each feature;
 * the typed client (`HttpApiClient.make(Api)`) and the OpenAPI document come from this value.
 */
import { HttpApi, OpenApi } from "@effect/platform"
import { AdminConsoleApi, AgentConsoleApi, VendorConsoleApi } from "../console/Api.js"
import { HealthApi } from "../health/Api.js"
import { IngestApi } from "../ingest/Api.js"
import { ObservabilityApi } from "../observability/Api.js"
import { RealtimeApi } from "../realtime/Api.js"

export class Api extends HttpApi.make("machpay-telemetry")
  .add(HealthApi)
  .add(IngestApi)
  .add(RealtimeApi)
  .add(ObservabilityApi)
  .add(VendorConsoleApi)
  .add(AgentConsoleApi)
  .add(AdminConsoleApi)
  .annotate(OpenApi.Title, "MachPay Telemetry")
  .annotate(OpenApi.Description, "Ingest, live stream and console API for MachPay gateways.") {}
