/**
 * `seqrec setup faiss` from a consumer's project: it installs into that project's
 * node_modules and its check resolves faiss-node from the project's seqrec, not from the
 * seqrec it runs from. No build runs here (only --check and the install plan).
 */
import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { installPlan, projectRoot, runningSeqrec } from '../../src/cli/setup/project.js';
import { verifyFaiss } from '../../src/cli/setup/faiss.js';
import { runCli } from '../serve/helpers.js';
import { standInApp } from './stand-in-app.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let tmp: string;
let app: string;
let appSeqrec: string;

before(async () => {
  ({ tmp, app, appSeqrec } = await standInApp('seqrec-setup-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

describe('seqrec setup faiss: where it installs', () => {
  it('the project root is the nearest package.json outside node_modules', () => {
    assert.equal(projectRoot(join(app, 'src')), app);
    assert.equal(projectRoot(appSeqrec), app);
    assert.equal(projectRoot(app), app);
    assert.equal(runningSeqrec(), REPO);
  });

  it("installs into the consumer's node_modules and checks the consumer's seqrec", () => {
    const plan = installPlan(join(app, 'src'), REPO);
    assert.ok(!('error' in plan), JSON.stringify(plan));
    assert.deepEqual(plan, { root: app, target: join(app, 'node_modules', 'faiss-node'), seqrec: appSeqrec });
    // In a clone of seqrec: the clone itself.
    const clone = installPlan(REPO, REPO);
    assert.ok(!('error' in clone));
    assert.equal(clone.target, join(REPO, 'node_modules', 'faiss-node'));
  });

  it('refuses a project whose seqrec would not look in its node_modules', async () => {
    // A project without seqrec installed: the running seqrec (this clone) would not find it there.
    const other = join(tmp, 'other');
    await mkdir(other, { recursive: true });
    await writeFile(join(other, 'package.json'), '{"name":"other"}');
    const plan = installPlan(other, REPO);
    assert.ok('error' in plan);
    assert.match(plan.error, /does not look for packages in .*other\/node_modules/);
  });
});

const here = createRequire(join(REPO, 'package.json'));
const faissHere = (() => {
  try {
    here.resolve('faiss-node');
    return verifyFaiss(REPO).ok;
  } catch {
    return false;
  }
})();

describe('seqrec setup faiss --check', { skip: faissHere ? false : 'faiss-node does not work in this clone (npm run setup:faiss)' }, () => {
  it("answers for the consumer's seqrec: broken until faiss-node is in the app's node_modules", async () => {
    // faiss-node works for this clone, but not for the app: the check must say so.
    const broken = runCli(['setup', 'faiss', '--check'], { INIT_CWD: join(app, 'src') });
    assert.equal(await broken.exited, 1, broken.stdout());
    assert.match(broken.stderr(), new RegExp(`faiss-node does not work for seqrec in ${appSeqrec}`));
    assert.doesNotMatch(broken.stderr(), /seqrec backend:/);
    await symlink(dirname(dirname(here.resolve('faiss-node'))), join(app, 'node_modules', 'faiss-node'));
    const ok = runCli(['setup', 'faiss', '--check'], { INIT_CWD: join(app, 'src') });
    assert.equal(await ok.exited, 0, ok.stderr());
    assert.match(ok.stdout(), new RegExp(`faiss-node [\\d.]+ works for seqrec in ${appSeqrec}`));
  });
});
