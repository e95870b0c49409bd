/**
 * The load clients of `npm run bench:serve`: POST /recommend with the given bodies in turn, for
 * a bounded duration, with autocannon (JavaScript, in this process) or wrk (C, one thread).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Requests sent, seconds taken, p50/p99 latency in ms, failed requests (errors and non-2xx). */
export interface LoadResult {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  bad: number;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/**
 * wrk's Lua script: each request takes the next body of the file given after `--`, and `done`
 * prints one JSON line (latencies in microseconds; errors include non-2xx/3xx statuses).
 */
const WRK_SCRIPT = `
local bodies, i = {}, 0
function init(args) for line in io.lines(args[1]) do bodies[#bodies + 1] = line end end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/recommend", { ["content-type"] = "application/json" }, bodies[i])
end
function done(s, latency)
  local e = s.errors
  io.write(string.format('\\n{"requests":%d,"seconds":%f,"p50":%f,"p99":%f,"bad":%d}\\n', s.requests, s.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
`;

/** One wrk run (one client thread): requests, seconds, p50/p99 in ms and failed requests. */
async function wrkRun(base: string, connections: number, seconds: number, bodies: string[]): Promise<LoadResult> {
  const dir = await mkdtemp(join(tmpdir(), 'seqrec-wrk-'));
  await writeFile(join(dir, 'script.lua'), WRK_SCRIPT);
  await writeFile(join(dir, 'bodies.jsonl'), bodies.join('\n') + '\n');
  const p = spawn('wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '-s',
    join(dir, 'script.lua'),
    base,
    '--',
    join(dir, 'bodies.jsonl'),
  ]);
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => process.stderr.write(d));
  const code = await new Promise<number | null>((res) => p.on('exit', res));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`wrk exited with ${code}:\n${out}`);
  return JSON.parse(last) as LoadResult;
}

/** One load run of `seconds` at `connections` against `base`'s POST /recommend, cycling through `bodies`. */
export async function postLoad(client: 'wrk' | 'autocannon', base: string, connections: number, seconds: number, bodies: string[]): Promise<LoadResult> {
  if (client === 'wrk') return wrkRun(base, connections, seconds, bodies);
  let next = 0;
  const r = await autocannon({
    url: base,
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json' },
    requests: [{ method: 'POST', path: '/recommend', setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
  });
  return { requests: r.requests.total, seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99, bad: r.non2xx + r.errors + r.timeouts };
}
