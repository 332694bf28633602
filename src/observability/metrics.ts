/**
 * Prometheus metrics (prom-client): HTTP requests and tool calls counted by route, tool, decision and
 * status, their latency histograms, rate-limit refusals, approvals waiting, connector health, and the
 * process metrics prom-client collects. Served as text at GET /metrics. Gauges read the store and the
 * connectors at scrape time, so nothing is kept in step on the request path.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Seconds: 50 µs to 30 s. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the gauges read when scraped. */
export interface MetricSources {
  approvalsPending(): { tenant: string; count: number }[];
  connectors(): { tenant: string; connector: string; healthy: boolean }[];
}

export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<"method" | "route" | "status">;
  private readonly httpDuration: Histogram<"method" | "route">;
  private readonly toolCalls: Counter<"tool" | "decision" | "status">;
  private readonly toolDuration: Histogram<"tool">;
  private readonly rateLimited: Counter<"profile">;
  private defaultsStarted = false;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.httpRequests = new Counter({ name: "invoke_http_requests_total", help: "HTTP requests answered, by method, route and status.", labelNames: ["method", "route", "status"], registers });
    this.httpDuration = new Histogram({ name: "invoke_http_request_duration_seconds", help: "Time to answer an HTTP request.", labelNames: ["method", "route"], buckets: LATENCY_BUCKETS, registers });
    this.toolCalls = new Counter({ name: "invoke_tool_calls_total", help: "tools/call requests, by tool, policy decision (none for Invoke's own tools) and outcome.", labelNames: ["tool", "decision", "status"], registers });
    this.toolDuration = new Histogram({ name: "invoke_tool_call_duration_seconds", help: "Time to answer a tools/call, policy and upstream included.", labelNames: ["tool"], buckets: LATENCY_BUCKETS, registers });
    this.rateLimited = new Counter({ name: "invoke_rate_limit_refusals_total", help: "Requests refused by the rate limiter, by key profile (none: requests without a valid key).", labelNames: ["profile"], registers });
    new Gauge({
      name: "invoke_approvals_pending",
      help: "Approval requests waiting for people, by tenant.",
      labelNames: ["tenant"],
      registers,
      collect() {
        this.reset();
        for (const { tenant, count } of sources.approvalsPending()) this.set({ tenant }, count);
      },
    });
    new Gauge({
      name: "invoke_connector_up",
      help: "1 when the connector's upstream is reachable, 0 otherwise, by tenant and connector.",
      labelNames: ["tenant", "connector"],
      registers,
      collect() {
        this.reset();
        for (const { tenant, connector, healthy } of sources.connectors()) this.set({ tenant, connector }, healthy ? 1 : 0);
      },
    });
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  toolCall(tool: string, decision: string | null, status: string, seconds: number): void {
    this.toolCalls.inc({ tool, decision: decision ?? "none", status });
    this.toolDuration.observe({ tool }, seconds);
  }

  rateLimitRefusal(profile: string | undefined): void {
    this.rateLimited.inc({ profile: profile ?? "none" });
  }

  /** The exposition text (process metrics are collected from the first scrape on). */
  async text(): Promise<string> {
    if (!this.defaultsStarted) {
      this.defaultsStarted = true;
      collectDefaultMetrics({ register: this.registry });
    }
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
