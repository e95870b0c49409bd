/**
 * seqrec's side of `npm run bench:peer`: `seqrec bench` with per-model config overrides that
 * the CLI has no flags for (bench/peer.ts uses it to match the peer's settings).
 *
 *   node --import tsx bench/peer-seqrec.ts '<JSON {model: {option: value}}>' [seqrec bench flags]
 */
import { parseArgs } from 'node:util';
import { initBackend, reportBackendOnce } from '../src/backend/index.js';
import { runBench } from '../src/cli/bench.js';
import type { CliFlags } from '../src/cli/main.js';

const [overrides, ...args] = process.argv.slice(2);
const modelOptions = JSON.parse(overrides ?? '{}') as Record<string, Record<string, unknown>>;
// Every `seqrec bench` flag bench/peer.ts passes takes a value.
const { values } = parseArgs({ args, strict: false });
for (const [k, v] of Object.entries(values)) if (typeof v !== 'string') throw new Error(`--${k} needs a value`);
const log = (line: string) => process.stderr.write(line + '\n');
await initBackend();
reportBackendOnce(log);
await runBench(values as CliFlags, log, modelOptions);
