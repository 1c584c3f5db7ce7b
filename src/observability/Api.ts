import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"

export class ObservabilityApi extends HttpApiGroup.make("observability")
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(Schema.String)
      .annotate(OpenApi.Description, "Prometheus text exposition (format 0.0.4) of every metric of this process.")
  )
  .annotate(OpenApi.Title, "Observability") {}
