/**
 * Writing and reading the optional cold-start files of a bundle (recent-popularity.json,
 * cooccurrence.bin; src/bundle/cold-start.ts has their formats), shared by the embedding
 * bundles (bundle.ts) and the neighbourhood-model bundles (ranker-bundle.ts).
 */
import type { FileDigest } from './atomic-dir.js';
import { readModelFile } from './checkpoint.js';
import { cooccurrenceFile, parseCooccurrence, parsePopularity, popularityDocument, type CooccurrenceSection, type CooccurrenceTable } from './cold-start.js';
import { bundleInvalid } from './file-schema.js';

export const RECENT_POPULARITY_FILE = 'recent-popularity.json';
export const COOCCURRENCE_FILE = 'cooccurrence.bin';

/** What the export options may carry. */
export interface ColdStartInputs {
  recentPopularity?: { counts: ArrayLike<number>; source: string };
  cooccurrence?: CooccurrenceTable;
}

/** The section fields naming them. */
export interface ColdStartSection {
  recentPopularity?: { file: string; source: string };
  cooccurrence?: CooccurrenceSection;
}

/** The files to write for `inputs` (checked now, before anything is written) and their section fields. */
export function coldStartFiles(inputs: ColdStartInputs, itemCount: number): { files: [string, Uint8Array][]; section: ColdStartSection } {
  const files: [string, Uint8Array][] = [];
  const section: ColdStartSection = {};
  if (inputs.recentPopularity !== undefined) {
    const { counts, source } = inputs.recentPopularity;
    files.push([RECENT_POPULARITY_FILE, Buffer.from(popularityDocument(counts, itemCount, String(source ?? 'recent training data'), 'recentPopularity'))]);
    section.recentPopularity = { file: RECENT_POPULARITY_FILE, source: String(source ?? 'recent training data') };
  }
  if (inputs.cooccurrence !== undefined) {
    const { bytes, section: co } = cooccurrenceFile(inputs.cooccurrence, itemCount, COOCCURRENCE_FILE);
    files.push([COOCCURRENCE_FILE, bytes]);
    section.cooccurrence = co;
  }
  return { files, section };
}

/** The file names the section fields own. */
export function coldStartNames(section: ColdStartSection): string[] {
  return [...(section.recentPopularity ? [section.recentPopularity.file] : []), ...(section.cooccurrence ? [section.cooccurrence.file] : [])];
}

async function readListed(loaded: { dir: string; files: Record<string, FileDigest> }, name: string, what: string): Promise<Buffer> {
  if (!loaded.files[name]) throw bundleInvalid(name, 'not covered by a digest in model.json');
  const bytes = await readModelFile(loaded, name);
  if (!bytes) throw bundleInvalid(name, `cannot read ${what} (ENOENT)`);
  return bytes;
}

/** The optional files of a loaded bundle (digests already verified by the load, checked again as read). */
export async function readColdStartFiles(
  loaded: { dir: string; files: Record<string, FileDigest> },
  section: ColdStartSection,
  itemCount: number,
): Promise<{ recentPopularity: Float64Array | null; cooccurrence: CooccurrenceTable | null }> {
  let recentPopularity: Float64Array | null = null;
  let cooccurrence: CooccurrenceTable | null = null;
  if (section.recentPopularity) {
    const name = section.recentPopularity.file;
    recentPopularity = parsePopularity(await readListed(loaded, name, 'the recent popularity counts'), name, itemCount);
  }
  if (section.cooccurrence) {
    const name = section.cooccurrence.file;
    cooccurrence = parseCooccurrence(await readListed(loaded, name, 'the co-occurrence table'), section.cooccurrence, itemCount);
  }
  return { recentPopularity, cooccurrence };
}
