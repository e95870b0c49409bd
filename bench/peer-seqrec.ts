/**
 * seqrec's side of `npm run bench:peer`: `seqrec bench` with per-model config overrides that
 * the CLI has no flags for (bench/peer.ts uses it to match the peer's settings).
 *
 *   node --import tsx bench/peer-seqrec.ts '<JSON {model: {option: value}}>' [seqrec bench flags]
 */
import { parseArgs } from 'node:util';
import { initBackend, reportBackendOnce } from '../src/backend/index.js';
import { runBench } from '../src/cli/commands/bench.js';
import type { StringFlags as CliFlags } from '../src/cli/flags.js';

const [overrides, ...args] = process.argv.slice(2);
const modelOptions = JSON.parse(overrides ?? '{}') as Record<string, Record<string, unknown>>;
// Every `seqrec bench` flag bench/peer.ts passes takes a value.
const names = args.filter((a) => a.startsWith('--')).map((a) => a.slice(2));
const { values } = parseArgs({ args, options: Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])), strict: true });
const log = (line: string) => process.stderr.write(line + '\n');
await initBackend();
reportBackendOnce(log);
await runBench(values as CliFlags, log, modelOptions);
