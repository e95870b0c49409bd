import type { Probe } from './audit-probe.js';
export async function httpProbes(_work: string): Promise<Probe[]> {
  return [];
}
