/**
 * Kill probes of `npm run bench:audit`: `kill -9` during `seqrec train --out`, `seqrec export`
 * and Trainer checkpointing (bench/faults.ts does the killing; `npm run bench:faults` runs 50+
 * per scenario). Each kill is one probe: a complete, loadable bundle must remain (data loss
 * otherwise), and after the next normal run no leftovers and the user's NOTES.md.
 */
import { join } from 'node:path';
import { SCENARIOS, runScenario } from './faults.js';
import type { Probe, ProbeResult } from './audit-probe.js';

export async function killProbes(work: string, kills: number): Promise<Probe[]> {
  return SCENARIOS.map((scenario): Probe => ({
    area: 'kills',
    name: `${kills} x kill -9 during ${scenario}`,
    timeoutMs: 30 * 60_000,
    // One probe per scenario whose result counts `kills` outcomes (see audit.ts: `count`).
    run: async (): Promise<ProbeResult> => {
      const r = await runScenario(scenario, kills, join(work, `kills-${scenario}`));
      const lost = r.kills - r.loadable;
      const detail = `${r.kills} kills (${r.insideSave} inside a save): ${r.loadable} left a loadable bundle; ${r.leftovers} leftovers after the next run; NOTES.md ${r.notesKept ? 'kept' : 'lost'}`;
      if (lost > 0 || !r.notesKept) return { outcome: 'data_loss', detail, count: r.kills, failed: Math.max(lost, r.notesKept ? 0 : 1) };
      if (r.leftovers > 0) return { outcome: 'silent_change', detail, count: r.kills, failed: 1 };
      return { outcome: 'handled', detail, count: r.kills };
    },
  }));
}
