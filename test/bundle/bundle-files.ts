/** Test helpers that reach into a bundle or checkpoint directory the way an attacker or a disk would. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The directory holding the current model.json: the version CURRENT names, or `dir` itself (flat). */
export function filesDir(dir: string): string {
  const pointer = join(dir, 'CURRENT');
  if (!existsSync(pointer)) return dir;
  return join(dir, (JSON.parse(readFileSync(pointer, 'utf8')) as { current: string }).current);
}

/** Path of `name` inside the current version of `dir`. */
export function fileIn(dir: string, name: string): string {
  return join(filesDir(dir), name);
}

/**
 * Edits model.json and, when the directory has a pointer, re-records its digest there too:
 * what a determined editor does, so that the checks behind the digest are tested as well.
 */
export async function rewriteManifest(dir: string, edit: (manifest: any) => void, raw?: (text: string) => string): Promise<void> {
  const path = fileIn(dir, 'model.json');
  const manifest = JSON.parse(await readFile(path, 'utf8'));
  edit(manifest);
  let text = JSON.stringify(manifest, null, 2);
  if (raw) text = raw(text);
  await writeFile(path, text);
  const pointer = join(dir, 'CURRENT');
  if (existsSync(pointer)) {
    const p = JSON.parse(await readFile(pointer, 'utf8'));
    p.manifest = { bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
    await writeFile(pointer, JSON.stringify(p));
  }
}

/** Edits model.json in place without touching any digest (a disk error or a careless edit). */
export async function editManifestOnly(dir: string, edit: (text: string) => string): Promise<void> {
  const path = fileIn(dir, 'model.json');
  await writeFile(path, edit(await readFile(path, 'utf8')));
}

/** Edits the JSON file `name` of the current version and re-records its digest in model.json (and the pointer). */
export async function rewriteJsonFile(dir: string, name: string, edit: (json: any) => void): Promise<void> {
  const path = fileIn(dir, name);
  const json = JSON.parse(await readFile(path, 'utf8'));
  edit(json);
  const text = JSON.stringify(json, null, 2);
  await writeFile(path, text);
  await rewriteManifest(dir, (m) => (m.files[name] = { bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') }));
}
