/**
 * A consumer project for the `seqrec setup` tests: app/package.json depending on seqrec,
 * app/node_modules/seqrec (a stand-in package with only a package.json) and app/src.
 */
import { mkdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../serve/helpers.js';

export async function standInApp(prefix: string): Promise<{ tmp: string; app: string; appSeqrec: string }> {
  const tmp = await realpath(await tempDir(prefix));
  const app = join(tmp, 'app');
  const appSeqrec = join(app, 'node_modules', 'seqrec');
  await mkdir(appSeqrec, { recursive: true });
  await mkdir(join(app, 'src'), { recursive: true });
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', dependencies: { seqrec: '*' } }));
  await writeFile(join(appSeqrec, 'package.json'), JSON.stringify({ name: 'seqrec', version: '0.0.0', exports: { './package.json': './package.json' } }));
  return { tmp, app, appSeqrec };
}
