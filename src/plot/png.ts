/**
 * SVG -> PNG with @resvg/resvg-js (Rust resvg; its binary comes in a platform npm package,
 * nothing is downloaded at install time). Loaded on first use, so code that never draws a PNG
 * never loads it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SeqrecError } from '../errors.js';

/** Renders SVG text to PNG bytes at `scale` times the SVG's own pixel size (default 1.5, sharp on HiDPI). */
export async function svgToPng(svg: string, scale = 1.5): Promise<Uint8Array> {
  let Resvg: typeof import('@resvg/resvg-js').Resvg;
  try {
    ({ Resvg } = await import('@resvg/resvg-js'));
  } catch (err) {
    throw new SeqrecError('invalid_argument', `PNG output needs the package @resvg/resvg-js (npm install @resvg/resvg-js): ${(err as Error).message}`);
  }
  const width = Number(/width="(\d+(?:\.\d+)?)"/.exec(svg)?.[1] ?? 800);
  const renderer = new Resvg(svg, {
    fitTo: { mode: 'width', value: Math.round(width * scale) },
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return renderer.render().asPng();
}

/** Writes `<path>.svg` and `<path>.png`; returns the two file names. */
export async function writeSvgAndPng(path: string, svg: string, scale?: number): Promise<{ svg: string; png: string }> {
  const base = path.replace(/\.(svg|png)$/i, '');
  await mkdir(dirname(base) || '.', { recursive: true });
  const files = { svg: `${base}.svg`, png: `${base}.png` };
  await writeFile(files.svg, svg);
  await writeFile(files.png, await svgToPng(svg, scale));
  return files;
}
