/**
 * Prometheus text exposition (format 0.0.4) for the HTTP server, without a client library:
 * request counters by route, method and status; a latency histogram by route; a few counters
 * and gauges about the model and the process.
 */
import type { FallbackKind } from './fallbacks.js';

/** The `kind` label values of seqrec_recommend_fallback_total (every one is always exported). */
export const FALLBACK_KINDS = ['popularity', 'recent-popularity', 'cooccurrence'] as const satisfies readonly FallbackKind[];

/** Latency histogram upper bounds, seconds. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(pairs: Record<string, string | number>): string {
  const parts = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

export interface GaugeValues {
  /** Live TF.js tensors. */
  tensors: number;
  /** Model generation (1 + successful reloads). */
  generation: number;
  /** Real items of the loaded model. */
  items: number;
  /** Requests being handled. */
  inFlight: number;
}

/** What the process itself reports (summed over the workers of a cluster; uptime: the longest). */
export interface ProcessValues {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  residentBytes: number;
  heapUsedBytes: number;
  uptimeSeconds: number;
}

/**
 * Everything /metrics shows, as plain data: what one server renders, and what a worker of
 * `seqrec serve --workers N` sends its primary so that the answer covers the whole server
 * (see `mergeMetrics`).
 */
export interface MetricsSnapshot {
  requests: { route: string; method: string; status: number; n: number }[];
  latency: ({ route: string } & Histogram)[];
  counters: Record<string, number>;
  gauges: GaugeValues;
  process: ProcessValues;
  /** Processes the snapshot covers (1 without workers). */
  workers: number;
}

export class ServerMetrics {
  private readonly requests = new Map<string, { route: string; method: string; status: number; n: number }>();
  private readonly latency = new Map<string, Histogram>();
  private readonly counters = new Map<string, number>();
  private readonly started = process.hrtime.bigint();

  /** Counts one finished request and its latency (seconds). `route` is the route pattern, never the raw URL. */
  observe(route: string, method: string, status: number, seconds: number): void {
    const key = `${route}\u0000${method}\u0000${status}`;
    const r = this.requests.get(key);
    if (r) r.n++;
    else this.requests.set(key, { route, method, status, n: 1 });
    let h = this.latency.get(route);
    if (!h) {
      h = { counts: new Array(LATENCY_BUCKETS.length).fill(0), sum: 0, count: 0 };
      this.latency.set(route, h);
    }
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]) h.counts[i]++;
    h.sum += seconds;
    h.count++;
  }

  /** Adds to a named counter: 'fallback:<kind>' (FALLBACK_KINDS), 'unknown_items', 'reload_success', 'reload_failure', 'coalesced_batches', 'coalesced_requests', 'connections_dropped'. */
  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  counter(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  /** Total requests seen for `route` (any status). */
  requestCount(route?: string): number {
    let n = 0;
    for (const r of this.requests.values()) if (route === undefined || r.route === route) n += r.n;
    return n;
  }

  /** This process's values, copied. */
  snapshot(g: GaugeValues): MetricsSnapshot {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    return {
      requests: [...this.requests.values()].map((r) => ({ ...r })),
      latency: [...this.latency].map(([route, h]) => ({ route, counts: [...h.counts], sum: h.sum, count: h.count })),
      counters: Object.fromEntries(this.counters),
      gauges: { ...g },
      process: {
        cpuUserSeconds: cpu.user / 1e6,
        cpuSystemSeconds: cpu.system / 1e6,
        residentBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        uptimeSeconds: Number(process.hrtime.bigint() - this.started) / 1e9,
      },
      workers: 1,
    };
  }
}

/**
 * Several processes' snapshots as one: counters, histograms, in-flight requests, tensors, CPU
 * and memory add up; the generation is the lowest (every worker serves at least that one;
 * during a rolling reload they differ), the item count that of the lowest generation, uptime
 * the longest.
 */
export function mergeMetrics(parts: readonly MetricsSnapshot[]): MetricsSnapshot {
  if (parts.length === 0) throw new Error('mergeMetrics: no snapshots');
  const requests = new Map<string, MetricsSnapshot['requests'][number]>();
  const latency = new Map<string, MetricsSnapshot['latency'][number]>();
  const counters: Record<string, number> = {};
  for (const p of parts) {
    for (const r of p.requests) {
      const key = `${r.route}\u0000${r.method}\u0000${r.status}`;
      const have = requests.get(key);
      if (have) have.n += r.n;
      else requests.set(key, { ...r });
    }
    for (const h of p.latency) {
      const have = latency.get(h.route);
      if (!have) latency.set(h.route, { ...h, counts: [...h.counts] });
      else {
        h.counts.forEach((c, i) => (have.counts[i] += c));
        have.sum += h.sum;
        have.count += h.count;
      }
    }
    for (const [name, v] of Object.entries(p.counters)) counters[name] = (counters[name] ?? 0) + v;
  }
  const oldest = parts.reduce((a, b) => (b.gauges.generation < a.gauges.generation ? b : a));
  const sum = (f: (p: MetricsSnapshot) => number) => parts.reduce((a, p) => a + f(p), 0);
  return {
    requests: [...requests.values()],
    latency: [...latency.values()],
    counters,
    gauges: {
      tensors: sum((p) => p.gauges.tensors),
      generation: oldest.gauges.generation,
      items: oldest.gauges.items,
      inFlight: sum((p) => p.gauges.inFlight),
    },
    process: {
      cpuUserSeconds: sum((p) => p.process.cpuUserSeconds),
      cpuSystemSeconds: sum((p) => p.process.cpuSystemSeconds),
      residentBytes: sum((p) => p.process.residentBytes),
      heapUsedBytes: sum((p) => p.process.heapUsedBytes),
      uptimeSeconds: Math.max(...parts.map((p) => p.process.uptimeSeconds)),
    },
    workers: sum((p) => p.workers),
  };
}

/** A snapshot as Prometheus text. */
export function renderMetrics(s: MetricsSnapshot): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, lines: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
  };
  const counter = (name: string) => s.counters[name] ?? 0;
  const g = s.gauges;
  metric(
    'seqrec_http_requests_total',
    'counter',
    'HTTP requests by route, method and status code.',
    s.requests.map((r) => `seqrec_http_requests_total${labels({ route: r.route, method: r.method, status: r.status })} ${r.n}`),
  );
  const hist: string[] = [];
  for (const h of s.latency) {
    const route = h.route;
    LATENCY_BUCKETS.forEach((le, i) => hist.push(`seqrec_http_request_duration_seconds_bucket${labels({ route, le: num(le) })} ${h.counts[i]}`));
    hist.push(`seqrec_http_request_duration_seconds_bucket${labels({ route, le: '+Inf' })} ${h.count}`);
    hist.push(`seqrec_http_request_duration_seconds_sum${labels({ route })} ${num(h.sum)}`);
    hist.push(`seqrec_http_request_duration_seconds_count${labels({ route })} ${h.count}`);
  }
  metric('seqrec_http_request_duration_seconds', 'histogram', 'Time from request received to response sent, by route.', hist);
  metric('seqrec_http_requests_in_flight', 'gauge', 'Requests being handled.', [`seqrec_http_requests_in_flight ${g.inFlight}`]);
  metric(
    'seqrec_recommend_fallback_total',
    'counter',
    'Recommendations answered by a cold-start fallback, by kind (popularity, recent-popularity, cooccurrence).',
    FALLBACK_KINDS.map((kind) => `seqrec_recommend_fallback_total${labels({ kind })} ${counter(`fallback:${kind}`)}`),
  );
  metric('seqrec_unknown_items_total', 'counter', 'Unknown item ids skipped in histories.', [`seqrec_unknown_items_total ${counter('unknown_items')}`]);
  metric('seqrec_coalesced_batches_total', 'counter', 'Model calls made for coalesced /recommend requests.', [
    `seqrec_coalesced_batches_total ${counter('coalesced_batches')}`,
  ]);
  metric('seqrec_coalesced_requests_total', 'counter', '/recommend requests answered through coalesced model calls.', [
    `seqrec_coalesced_requests_total ${counter('coalesced_requests')}`,
  ]);
  metric('seqrec_reloads_total', 'counter', 'Bundle reloads by result (per worker: a reload of N workers counts N).', [
    `seqrec_reloads_total${labels({ result: 'success' })} ${counter('reload_success')}`,
    `seqrec_reloads_total${labels({ result: 'failure' })} ${counter('reload_failure')}`,
  ]);
  metric('seqrec_http_connections_dropped_total', 'counter', 'Connections closed at once because maxConnections were open.', [
    `seqrec_http_connections_dropped_total ${counter('connections_dropped')}`,
  ]);
  metric('seqrec_model_generation', 'gauge', 'Generation of the loaded bundle (1 + successful reloads; with workers, the lowest).', [
    `seqrec_model_generation ${g.generation}`,
  ]);
  metric('seqrec_model_items', 'gauge', 'Items in the loaded vocabulary.', [`seqrec_model_items ${g.items}`]);
  metric('seqrec_tfjs_tensors', 'gauge', 'Live TF.js tensors (flat in steady state).', [`seqrec_tfjs_tensors ${g.tensors}`]);
  metric('seqrec_workers', 'gauge', 'Serving processes this answer covers.', [`seqrec_workers ${s.workers}`]);
  const p = s.process;
  metric('process_cpu_user_seconds_total', 'counter', 'User CPU time of the process.', [`process_cpu_user_seconds_total ${p.cpuUserSeconds}`]);
  metric('process_cpu_system_seconds_total', 'counter', 'System CPU time of the process.', [`process_cpu_system_seconds_total ${p.cpuSystemSeconds}`]);
  metric('process_cpu_seconds_total', 'counter', 'User and system CPU time of the process.', [
    `process_cpu_seconds_total ${p.cpuUserSeconds + p.cpuSystemSeconds}`,
  ]);
  metric('process_resident_memory_bytes', 'gauge', 'Resident set size.', [`process_resident_memory_bytes ${p.residentBytes}`]);
  metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.', [`nodejs_heap_used_bytes ${p.heapUsedBytes}`]);
  metric('process_uptime_seconds', 'gauge', 'Seconds since the metrics registry was created.', [`process_uptime_seconds ${p.uptimeSeconds}`]);
  return out.join('\n') + '\n';
}

/** Parses Prometheus text into `name{labels}` -> value (for tests and the bench). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    const v = line.slice(i + 1);
    out.set(line.slice(0, i), v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v));
  }
  return out;
}
