import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { HealthResponse } from "../../schema/api/Health.js"

/** 503 carries the same body as 200, so a probe can always read why. */
export class NotReady extends Schema.TaggedError<NotReady>()(
  "NotReady",
  { health: HealthResponse },
  HttpApiSchema.annotations({ status: 503, description: "The process cannot do its work yet (e.g. the database is unreachable)" })
) {}

export class HealthApi extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("health", "/health")
      .addSuccess(HealthResponse)
      .annotate(OpenApi.Description, "Liveness and component status. Always 200 while the process runs; `status` says whether it is degraded.")
  )
  .add(
    HttpApiEndpoint.get("ready", "/health/ready")
      .addSuccess(HealthResponse)
      .addError(NotReady)
  )
  .annotate(OpenApi.Title, "Health") {}
