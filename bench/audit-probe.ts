/** The probe contract of `npm run bench:audit` (bench/audit.ts) and its classifiers. */
import { SeqrecError, type SeqrecErrorCode } from '../src/errors.js';

export type Outcome = 'handled' | 'crash' | 'silent_change' | 'data_loss' | 'security';

export interface ProbeResult {
  outcome: Outcome;
  detail?: string;
  /** Probes this result stands for (a kill scenario is one probe per kill). Default 1. */
  count?: number;
  /** Of `count`, how many had `outcome` (the rest were handled). Default all of them. */
  failed?: number;
}

export interface Probe {
  area: string;
  name: string;
  run(): Promise<ProbeResult>;
  /** Preparation only: run, but not counted. */
  setup?: boolean;
  /** Longest the probe may take before it counts as a hang (crash). Default 60 s. */
  timeoutMs?: number;
}

/** Thrown by a probe body that finds bad input accepted with altered data. */
export class SilentChange extends Error {}
/** Thrown by a probe body that finds a leak, an open door or unbounded work. */
export class SecurityIssue extends Error {}
/** Thrown by a probe body that finds a good model or a user's file gone. */
export class DataLoss extends Error {}

/** An absolute path under the temporary directories the probes use: never in a message. */
const ABSOLUTE_TMP = /(^|[\s'"`(])\/(tmp|root|etc|home)\//;

export interface ErrorExpectation {
  /** The SeqrecError code wanted (another code still counts as handled, with a note). */
  code?: SeqrecErrorCode;
  /** The message must match (names the file, field or id). */
  mentions?: RegExp;
  /** The message must not match (a known unhelpful message). */
  notMentions?: RegExp;
  /** Absolute paths in the message are a leak (client-facing messages). */
  noPaths?: boolean;
}

/** Runs `fn`, which must fail with a clear SeqrecError. */
export async function expectError(fn: () => Promise<unknown>, want: ErrorExpectation = {}): Promise<ProbeResult> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof SilentChange) return { outcome: 'silent_change', detail: e.message };
    if (e instanceof SecurityIssue) return { outcome: 'security', detail: e.message };
    if (e instanceof DataLoss) return { outcome: 'data_loss', detail: e.message };
    if (!(e instanceof SeqrecError)) return { outcome: 'crash', detail: `${(e as Error)?.name}: ${(e as Error)?.message}`.slice(0, 300) };
    if (want.noPaths && ABSOLUTE_TMP.test(e.message)) return { outcome: 'security', detail: `message reveals a path: ${e.message}` };
    if (want.mentions && !want.mentions.test(e.message)) return { outcome: 'crash', detail: `unclear message (wanted ${want.mentions}): ${e.message}` };
    if (want.notMentions && want.notMentions.test(e.message)) return { outcome: 'crash', detail: `unhelpful message: ${e.message}` };
    const note = want.code && e.code !== want.code ? ` (code ${e.code}, wanted ${want.code})` : '';
    return { outcome: 'handled', detail: `${e.code}: ${e.message}${note}` };
  }
  return { outcome: 'silent_change', detail: 'accepted' };
}

/** Runs a probe with its time limit; a probe that throws is a crash of the probe's subject. */
export async function runProbe(probe: Probe): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  const limit = probe.timeoutMs ?? 60_000;
  const hang = new Promise<ProbeResult>((res) => {
    timer = setTimeout(() => res({ outcome: 'crash', detail: `no answer within ${limit / 1000} s (hang)` }), limit);
  });
  try {
    return await Promise.race([probe.run(), hang]);
  } catch (e) {
    return { outcome: 'crash', detail: `probe threw ${(e as Error)?.stack ?? String(e)}`.slice(0, 400) };
  } finally {
    clearTimeout(timer);
  }
}
