/**
 * `seqrec serve --workers 2` as users run it: one port, two processes; reloads (SIGHUP and
 * POST /admin/reload) roll through both under load with no failed request, /metrics covers
 * both, a killed worker is replaced, SIGTERM drains both.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parsePrometheus } from '../../src/serve/metrics.js';
import { fileIn } from '../bundle/bundle-files.js';
import { get, loadDuring, post, runCli, trainTinyBundle, waitForOutput } from '../serve/helpers.js';

let bundle: string;
const TOKEN = 'cli-serve-workers-token';

before(async () => {
  bundle = (await trainTinyBundle({ seed: 11, epochs: 1 })).dir;
});
after(() => rm(dirname(bundle), { recursive: true, force: true }));

/** The worker processes of a primary (Linux ps). */
function childPids(pid: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.trim().split(' ')[0]));
}

describe('seqrec serve --workers 2', () => {
  it('two processes share the port; reloads roll through both under load with only 200s; /metrics sums them; SIGTERM drains both', async () => {
    const p = runCli(['serve', '--model', bundle, '--port', '0', '--workers', '2'], { SEQREC_ADMIN_TOKEN: TOKEN });
    try {
      await waitForOutput(p, (out) => /listening on http:\/\/127\.0\.0\.1:\d+ .*2 workers, primary pid/.test(out), 60_000);
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stdout())![1];
      assert.equal(childPids(p.child.pid!).length, 2);
      const items = (JSON.parse(await readFile(fileIn(bundle, 'vocabulary.json'), 'utf8')) as { items: string[] }).items;

      // 40 requests at once open many connections, which the primary deals out to both workers.
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => post(base, '/recommend', { history: [items[i % items.length]], k: 5 })));
      assert.ok(answers.every((a) => a.status === 200 && a.body.items.length === 5));
      // A request is counted when its response closes on the server, which can be just after
      // the client has it: poll briefly.
      const recommended = (x: Map<string, number>) => x.get('seqrec_http_requests_total{route="/recommend",method="POST",status="200"}');
      let m = parsePrometheus((await get(base, '/metrics')).text);
      for (let i = 0; i < 20 && recommended(m) !== 40; i++) {
        await new Promise((r) => setTimeout(r, 50));
        m = parsePrometheus((await get(base, '/metrics')).text);
      }
      assert.equal(m.get('seqrec_workers'), 2);
      assert.equal(recommended(m), 40);

      const load = await loadDuring(base, items, async () => {
        p.child.kill('SIGHUP');
        await waitForOutput(p, () => /reloaded 2 workers/.test(p.stderr()), 60_000);
        const rr = await post(base, '/admin/reload', {}, { authorization: `Bearer ${TOKEN}` });
        assert.equal(rr.status, 200, JSON.stringify(rr.body));
        assert.equal(rr.body.info.generation, 3);
      });
      assert.deepEqual([...load.statuses.keys()], ['200'], JSON.stringify([...load.statuses]));
      m = parsePrometheus((await get(base, '/metrics')).text);
      // Two reloads of two workers each; every worker at generation 3.
      assert.equal(m.get('seqrec_reloads_total{result="success"}'), 4);
      assert.equal(m.get('seqrec_model_generation'), 3);

      // A worker killed outright is replaced; the server keeps answering meanwhile.
      const [victim] = childPids(p.child.pid!);
      process.kill(victim, 'SIGKILL');
      await waitForOutput(p, () => /exited \(SIGKILL\) while serving: starting a replacement/.test(p.stderr()), 20_000);
      assert.equal((await post(base, '/recommend', { history: [items[0]], k: 3 })).status, 200);
      const t0 = Date.now();
      while (parsePrometheus((await get(base, '/metrics')).text).get('seqrec_workers') !== 2) {
        assert.ok(Date.now() - t0 < 60_000, 'the replacement worker did not come up');
        await new Promise((r) => setTimeout(r, 200));
      }

      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.stderr());
      assert.equal(p.stderr().match(/worker \d+: shut down cleanly/g)?.length, 2, p.stderr());
      assert.match(p.stderr(), /all workers stopped/);
      await assert.rejects(fetch(`${base}/health`));
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });

  it('fails at start-up with the worker error when the bundle cannot load, leaving no process behind', async () => {
    const p = runCli(['serve', '--model', join(dirname(bundle), 'missing'), '--port', '0', '--workers', '2']);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr(), /no such bundle directory/);
    assert.match(p.stderr(), /exited \(code 1\) before it listened/);
    assert.doesNotMatch(p.stdout(), /listening/);
  });
});
