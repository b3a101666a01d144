/** The workflow thread's heap limit (ARBITER_WORKFLOW_HEAP_MB): what bounds a busy worker's memory. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { DEFAULT_WORKFLOW_HEAP_MB } from '../../workers/config';
import { limitWorkflowThreadHeap } from '../../workers/workflow-heap';
import { testStack } from '../helpers/stack';

const MiB = 2 ** 20;
/** A worker thread's source that reports its own heap limit. */
const REPORT_HEAP_LIMIT =
  "require('node:worker_threads').parentPort.postMessage(require('node:v8').getHeapStatistics().heap_size_limit)";

/** The heap limit, in MiB, of a worker thread started now (as the SDK starts its workflow thread). */
async function nextThreadHeapLimitMb(): Promise<number> {
  const thread = new Worker(REPORT_HEAP_LIMIT, { eval: true });
  const [limit] = (await new Promise((resolve) => thread.once('message', (m) => resolve([m])))) as [number];
  await thread.terminate();
  return limit / MiB;
}

describe('workers: the workflow thread heap limit', () => {
  after(() => limitWorkflowThreadHeap(DEFAULT_WORKFLOW_HEAP_MB));

  it('applies to threads started after it, not to the process main thread', () => {
    const script = `
      const v8 = require('node:v8'); const { Worker } = require('node:worker_threads');
      const before = v8.getHeapStatistics().heap_size_limit;
      require(${JSON.stringify(require.resolve('../../workers/workflow-heap'))}).limitWorkflowThreadHeap(200);
      const w = new Worker(${JSON.stringify(REPORT_HEAP_LIMIT)}, { eval: true });
      w.once('message', (m) => { console.log(JSON.stringify({ before, after: v8.getHeapStatistics().heap_size_limit, thread: m })); w.terminate(); });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as Record<
      string,
      number
    >;
    assert.equal(out.after, out.before, 'the main thread keeps its heap');
    assert.ok(out.thread / MiB >= 200 && out.thread / MiB < 260, `thread limit ${out.thread / MiB} MiB`);
    assert.ok(out.before / MiB > 260, 'the default is larger, so the test tells them apart');
  });

  it('is set by createArbiterWorker before the SDK starts its workflow thread', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'arbiter-heap-'));
    const { worker, running } = await testStack().startWorker('arbiter-heap-test', home, { workflowHeapMb: 300 });
    try {
      const limit = await nextThreadHeapLimitMb();
      assert.ok(limit >= 300 && limit < 360, `thread limit ${limit} MiB`);
      assert.ok(getHeapStatistics().heap_size_limit / MiB > 360, 'the main thread is not limited');
    } finally {
      worker.shutdown();
      await running;
    }
  });
});
