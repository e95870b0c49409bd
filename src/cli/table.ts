/** Formats a metric table: rows = runs, columns = metric keys. */
export function metricTable(rows: { name: string; report: Record<string, number> }[], keys: string[]): string {
  const header = ['', ...keys];
  const lines = rows.map((r) => [r.name, ...keys.map((k) => (r.report[k] === undefined ? '-' : r.report[k].toFixed(4)))]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), ...lines.map(fmt)].join('\n');
}

export const REPORT_KEYS = ['recall@20', 'ndcg@20', 'hitRate@20', 'recall@50', 'ndcg@50', 'ndcgComiRec@50', 'hitRate@50'];
