/**
 * The chaos suite's short run (bench/chaos.ts is the long one): tasks in flight on two worker
 * processes while faults are injected, then every invariant checked. Against the dev server, and
 * against the real cluster (client/cluster/) when the Go toolchain can build it or its binaries
 * are already in .tools (about 3 minutes cold). `ARBITER_CHAOS=0` skips both.
 */
import { strict as assert } from 'node:assert';
import { builtClusterBinaries, ensureClusterBinaries, goAvailable } from '../../client/cluster/binaries';
import type { FaultPlan } from '../../bench/chaos/faults';
import { describeReport, faultKindsMissed, STALL_LIMIT_MS } from '../../bench/chaos/report';
import { runChaos, type ChaosOptions } from '../../bench/chaos/run';

/**
 * All three fault kinds, PostgreSQL down 20-30 s: each must be injected at least once (the
 * injector finishes its first round past the 90 s if need be) and survived, every task COMPLETED.
 */
const CI_FAULTS: FaultPlan = {
  kinds: ['worker', 'temporal', 'postgres'],
  gapMs: [10_000, 20_000],
  postgresDownMs: [20_000, 30_000],
};

async function chaosHolds(target: ChaosOptions['target']): Promise<void> {
  const report = await runChaos({
    minutes: 1.5,
    target,
    inFlight: 6,
    workers: 2,
    faults: CI_FAULTS,
    drainMinutes: 3,
    say: () => undefined,
  });
  const { lines, ok } = describeReport(report);
  console.log(lines.map((l) => `      ${l}`).join('\n'));
  assert.ok(report.tasks > 0, lines.join('\n'));
  assert.deepEqual(Object.keys(report.faultsByKind).sort(), [...CI_FAULTS.kinds].sort(), lines.join('\n'));
  assert.deepEqual(faultKindsMissed(report), [], lines.join('\n'));
  assert.deepEqual(report.outcomes, { COMPLETED: report.tasks }, lines.join('\n'));
  assert.deepEqual([report.lost, report.duplicated, report.broken], [[], [], []], lines.join('\n'));
  assert.ok(report.stall.ms < STALL_LIMIT_MS, lines.join('\n'));
  assert.ok(ok, lines.join('\n'));
}

describe('chaos (short run)', function () {
  it('loses and duplicates nothing on the dev server through worker kills, Temporal restarts and PostgreSQL outages', async function () {
    if (process.env.ARBITER_CHAOS === '0') this.skip();
    this.timeout(10 * 60_000);
    await chaosHolds('dev');
  });

  it('loses and duplicates nothing on the real cluster through worker kills, SIGKILLed services and PostgreSQL outages', async function () {
    if (process.env.ARBITER_CHAOS === '0' || (!builtClusterBinaries() && !goAvailable())) this.skip();
    this.timeout(25 * 60_000);
    await ensureClusterBinaries(() => undefined);
    await chaosHolds('cluster');
  });
});
