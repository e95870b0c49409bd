/**
 * Writing a chart: its Vega-Lite spec (`.vl.json`, opens in the Vega editor), its SVG, and a PNG
 * made from the SVG by @resvg/resvg-js (Rust resvg; its binary comes in a platform npm package,
 * nothing is downloaded at install time). resvg is an optional peer dependency, loaded on first use.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loadOptional } from '../util/optional.js';
import { FONT, renderSvg, type VegaLiteSpec } from './vega.js';

/**
 * Renders SVG text to PNG bytes at `scale` times the SVG's own pixel size (default 1.5, sharp on
 * HiDPI). Text uses the system fonts; DejaVu Sans (on Debian by default) is the fallback family.
 */
export async function svgToPng(svg: string, scale = 1.5): Promise<Uint8Array> {
  const { Resvg } = await loadOptional('@resvg/resvg-js', 'seqrec plot (PNG output)', () => import('@resvg/resvg-js'));
  const width = Number(/width="(\d+(?:\.\d+)?)"/.exec(svg)?.[1] ?? 800);
  const family = FONT.split(',')[0].trim();
  const renderer = new Resvg(svg, {
    fitTo: { mode: 'width', value: Math.round(width * scale) },
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: family, sansSerifFamily: family },
  });
  return renderer.render().asPng();
}

export interface ChartFiles {
  /** The Vega-Lite spec, data inlined. */
  spec: string;
  svg: string;
  png: string;
}

/** Writes `<path>.vl.json`, `<path>.svg` and `<path>.png` of a chart; returns the three file names. */
export async function writeChart(path: string, spec: VegaLiteSpec, scale?: number): Promise<ChartFiles> {
  const base = path.replace(/\.(svg|png|vl\.json)$/i, '');
  const svg = await renderSvg(spec);
  const png = await svgToPng(svg, scale);
  await mkdir(dirname(base) || '.', { recursive: true });
  const files = { spec: `${base}.vl.json`, svg: `${base}.svg`, png: `${base}.png` };
  await writeFile(files.spec, `${JSON.stringify(spec, null, 1)}\n`);
  await writeFile(files.svg, svg);
  await writeFile(files.png, png);
  return files;
}
