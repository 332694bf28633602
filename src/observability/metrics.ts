/**
 * Prometheus metrics: HTTP requests and tool calls counted by route, tool, decision and status, their
 * latency histograms, rate-limit refusals, approvals waiting, connector health, and the process metrics
 * prom-client collects. Served as text at GET /metrics by prom-client's registry.
 *
 * The series written on every request are plain counters in memory (`Family`), found through nested maps
 * of their label values: prom-client's own `inc`/`observe` validate and hash the labels on each call,
 * which cost about 1 µs per request, several times more than the counting itself. prom-client reads the
 * families when scraped, as it reads any registered metric. Gauges read the store and the connectors at
 * scrape time, so nothing is kept in step on the request path. prom-client itself is loaded at the first
 * scrape: start-up does not pay for it (the cold-start target).
 */
import type { MetricValueWithName, Registry } from "prom-client";

/** Seconds: 50 µs to 30 s. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the gauges read when scraped. */
export interface MetricSources {
  approvalsPending(): Promise<{ tenant: string; count: number }[]>;
  connectors(): Promise<{ tenant: string; connector: string; healthy: boolean }[]>;
}

/** One labelled series: a count, and for a histogram the sum and the count per bucket (not cumulative; the last is +Inf). */
interface Series {
  labels: Record<string, string>;
  count: number;
  sum: number;
  buckets: number[] | undefined;
}

type Level = Map<string, Level | Series>;

/** A counter or histogram family whose series are plain objects; registered with prom-client, which renders it. */
class Family {
  private readonly root: Level = new Map();
  private readonly series: Series[] = [];
  readonly aggregator = "sum" as const;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "histogram",
    private readonly labelNames: readonly string[],
  ) {}

  /** The series for these label values (in labelNames order), created at first use. */
  at(...values: string[]): Series {
    let level = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]!) as Level | undefined;
      if (next === undefined) level.set(values[i]!, (next = new Map()));
      level = next;
    }
    let series = level.get(values[last]!) as Series | undefined;
    if (series === undefined) {
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!]));
      series = { labels, count: 0, sum: 0, buckets: this.type === "histogram" ? new Array(LATENCY_BUCKETS.length + 1).fill(0) : undefined };
      level.set(values[last]!, series);
      this.series.push(series);
    }
    return series;
  }

  /** What prom-client's registry renders (the shape its own metrics' `get()` returns). */
  get() {
    const values: MetricValueWithName<string>[] = [];
    for (const { labels, count, sum, buckets } of this.series) {
      if (buckets === undefined) {
        values.push({ labels, value: count });
        continue;
      }
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += buckets[i]!;
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: "+Inf" }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

function observe(series: Series, seconds: number): void {
  let i = 0;
  while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
  series.buckets![i]!++;
  series.sum += seconds;
  series.count++;
}

/** The exposition format's content type: prom-client's `Registry.PROMETHEUS_CONTENT_TYPE`, known before it is loaded. */
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export class Metrics {
  private readonly httpRequests = new Family("invoke_http_requests_total", "HTTP requests answered, by method, route and status.", "counter", ["method", "route", "status"]);
  private readonly httpDuration = new Family("invoke_http_request_duration_seconds", "Time to answer an HTTP request.", "histogram", ["method", "route"]);
  private readonly toolCalls = new Family("invoke_tool_calls_total", "tools/call requests, by tool, policy decision (none for Invoke's own tools) and outcome.", "counter", ["tool", "decision", "status"]);
  private readonly toolDuration = new Family("invoke_tool_call_duration_seconds", "Time to answer a tools/call, policy and upstream included.", "histogram", ["tool"]);
  private readonly rateLimited = new Family("invoke_rate_limit_refusals_total", "Requests refused by the rate limiter, by key profile (none: requests without a valid key).", "counter", ["profile"]);
  /** prom-client's registry, made at the first scrape. */
  private registry: Promise<Registry> | undefined;

  /** `enabled` false: nothing is counted (GET /metrics answers 404). */
  constructor(
    private readonly sources: MetricSources,
    readonly enabled = true,
  ) {}

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    if (!this.enabled) return;
    this.httpRequests.at(method, route, String(status)).count++;
    observe(this.httpDuration.at(method, route), seconds);
  }

  toolCall(tool: string, decision: string | null, status: string, seconds: number): void {
    if (!this.enabled) return;
    this.toolCalls.at(tool, decision ?? "none", status).count++;
    observe(this.toolDuration.at(tool), seconds);
  }

  rateLimitRefusal(profile: string | undefined): void {
    if (!this.enabled) return;
    this.rateLimited.at(profile ?? "none").count++;
  }

  /** The exposition text (process metrics are collected from the first scrape on). */
  async text(): Promise<string> {
    this.registry ??= this.createRegistry();
    return (await this.registry).metrics();
  }

  readonly contentType = CONTENT_TYPE;

  /** prom-client's registry holding the families, the gauges and the process metrics. */
  private async createRegistry(): Promise<Registry> {
    const { collectDefaultMetrics, Gauge, Registry } = await import("prom-client");
    const registry = new Registry();
    for (const family of [this.httpRequests, this.httpDuration, this.toolCalls, this.toolDuration, this.rateLimited]) registry.registerMetric(family as never);
    const sources = this.sources;
    new Gauge({
      name: "invoke_approvals_pending",
      help: "Approval requests waiting for people, by tenant.",
      labelNames: ["tenant"],
      registers: [registry],
      async collect() {
        const pending = await sources.approvalsPending();
        this.reset();
        for (const { tenant, count } of pending) this.set({ tenant }, count);
      },
    });
    new Gauge({
      name: "invoke_connector_up",
      help: "1 when the connector's upstream is reachable, 0 otherwise, by tenant and connector.",
      labelNames: ["tenant", "connector"],
      registers: [registry],
      async collect() {
        const connectors = await sources.connectors();
        this.reset();
        for (const { tenant, connector, healthy } of connectors) this.set({ tenant, connector }, healthy ? 1 : 0);
      },
    });
    collectDefaultMetrics({ register: registry });
    return registry;
  }
}
