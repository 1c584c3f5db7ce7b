import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { Api } from "../http/Api.js"
import { PrometheusScrape } from "./Prometheus.js"

export const ObservabilityHttpLive = HttpApiBuilder.group(Api, "observability", (handlers) =>
  Effect.map(PrometheusScrape, (scrape) =>
    handlers.handleRaw("metrics", () =>
      Effect.map(scrape.render, (text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4" }))
    ))
)
