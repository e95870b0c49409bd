import type { Probe } from './audit-probe.js';
export async function killProbes(_work: string, _kills: number): Promise<Probe[]> {
  return [];
}
