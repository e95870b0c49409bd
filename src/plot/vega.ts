/**
 * seqrec's charts are Vega-Lite specs (plain JSON, data inlined) rendered to SVG in Node by
 * vega (renderer 'none': no browser, no canvas). vega and vega-lite are optional peer
 * dependencies, loaded on first use.
 */
import { loadOptional } from '../util/optional.js';

/** A Vega-Lite spec as JSON (kept loose so the public types do not depend on vega-lite's). */
export interface VegaLiteSpec {
  $schema: string;
  [key: string]: unknown;
}

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Font stack: DejaVu Sans is on Debian by default (fonts-dejavu-core), and resvg uses it for the PNG. */
export const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/** Categorical colours: Tableau 10 followed by two more distinguishable hues. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#1f3b73', '#8cd17d', '#d37295'];
/** Grey for "other". */
export const OTHER_COLOR = '#bab0ac';

/** The config every chart shares: one font everywhere, white background, sizes as in the old charts. */
export function baseConfig(): Record<string, unknown> {
  return {
    font: FONT,
    background: '#ffffff',
    padding: 12,
    title: { fontSize: 19, subtitleFontSize: 13, subtitleColor: '#555', anchor: 'middle', offset: 14 },
    axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', labelColor: '#444', gridColor: '#e6e6e6', domainColor: '#555', tickColor: '#555' },
    legend: { labelFontSize: 12.5, titleFontSize: 12.5, labelLimit: 0, titleLimit: 0 },
    header: { labelFontSize: 15 },
    view: { stroke: null },
  };
}

/** A top-level spec: schema, title with subtitle lines, the shared config (plus `config` entries), and the chart body. */
export function chartSpec(title: string, subtitle: string[] | undefined, body: Record<string, unknown>, config: Record<string, unknown> = {}): VegaLiteSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: subtitle && subtitle.length > 0 ? { text: title, subtitle } : { text: title },
    ...body,
    config: { ...baseConfig(), ...config },
  };
}

const NEEDED_FOR = 'seqrec plot';

/** Compiles a Vega-Lite spec to a Vega spec (throws on an invalid spec). */
export async function compileVegaLite(spec: VegaLiteSpec): Promise<Record<string, unknown>> {
  const vl = await loadOptional('vega-lite', NEEDED_FOR, () => import('vega-lite'));
  return vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec as unknown as Record<string, unknown>;
}

/** Renders a Vega-Lite spec to SVG text. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const vega = await loadOptional('vega', NEEDED_FOR, () => import('vega'));
  const compiled = await compileVegaLite(spec);
  const view = new vega.View(vega.parse(compiled as unknown as Parameters<typeof vega.parse>[0]), { renderer: 'none' });
  try {
    return roundGeometry(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/** Vega writes coordinates with full float precision; 2 decimals (in geometry attributes only, never text) keep a 5000-point map small. */
function roundGeometry(svg: string): string {
  return svg.replace(
    / (transform|d|points)="([^"]*)"/g,
    (_, name: string, value: string) => ` ${name}="${value.replace(/-?\d+\.\d{3,}(?:e-?\d+)?/g, (n) => String(Math.round(Number(n) * 100) / 100))}"`,
  );
}

/** Rounds a value for the inlined data: a few decimals keep the spec files small. */
export function round(v: number, decimals = 4): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}
