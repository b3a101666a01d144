/**
 * The CPU Arbiter's workflow code costs a task, without a server or a database: the newest
 * committed history of each lifecycle path (test/fixtures/histories) replayed many times through
 * the current workflow bundle, as a worker replays a run it no longer has cached. Deterministic
 * where the load benchmark is not (the same events every time), so a change to the workflow code
 * can be weighed alone. Prints the figures; asserts nothing.
 *
 *   node lib/bench/workflow-replay.js [--replays 200] [--path completed]
 */
import { parseArgs } from 'node:util';
import { Worker } from '@temporalio/worker';
import { installQuietRuntime } from '../test/replay/replay-all';
import { fixtureSets, readFixtureSet, type HistoryFixture } from '../test/replay/history-fixtures';
import { SILENT_LOGGER } from '../workers/logger';
import { tracingWorkerOptions } from '../workers/telemetry';
import { bundleArbiterWorkflows } from '../workers/workflow-bundle';
import { runBench } from './harness';

function options(): { replays: number; paths: string[] } {
  const { values } = parseArgs({
    options: { replays: { type: 'string', default: '200' }, path: { type: 'string', multiple: true } },
  });
  const replays = Number(values.replays);
  if (!Number.isInteger(replays) || replays < 1) throw new Error('--replays must be a positive integer');
  return { replays, paths: values.path ?? ['completed', 'failed', 'waived'] };
}

/** The newest numbered set's fixture of `path`. */
function newestFixture(path: string): HistoryFixture {
  const numbered = fixtureSets().filter((s) => /^v\d+$/.test(s));
  const newest = numbered.sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))).at(-1);
  const fixture = newest && readFixtureSet(newest).find((f) => f.path === path);
  if (!fixture) throw new Error(`no fixture '${path}' in the newest set ${newest}`);
  return fixture;
}

/** CPU and wall time per replay of `fixture`, `replays` times over. */
async function measure(
  bundle: Awaited<ReturnType<typeof bundleArbiterWorkflows>>,
  fixture: HistoryFixture,
  replays: number,
) {
  const histories = Array.from({ length: replays }, () => ({
    workflowId: fixture.workflowId,
    history: fixture.history,
  }));
  const cpu = process.cpuUsage();
  const started = performance.now();
  let failed = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: bundle, sinks: tracingWorkerOptions().sinks },
    histories,
  ))
    if (result.error) failed++;
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000 / replays, wallMs: (performance.now() - started) / replays, failed };
}

async function main(): Promise<void> {
  const { replays, paths } = options();
  installQuietRuntime();
  const bundle = await bundleArbiterWorkflows(SILENT_LOGGER);
  for (const path of paths) {
    const fixture = newestFixture(path);
    const events = fixture.history.events?.length ?? 0;
    await measure(bundle, fixture, Math.min(replays, 20)); // warm-up: compiling, the first contexts
    const { cpuMs, wallMs, failed } = await measure(bundle, fixture, replays);
    console.log(
      `${fixture.set}/${path} (${events} events): ${replays} replays, CPU ${cpuMs.toFixed(1)} ms and wall ${wallMs.toFixed(1)} ms a replay` +
        (failed ? `, ${failed} FAILED to replay` : ''),
    );
  }
}

runBench(main);
