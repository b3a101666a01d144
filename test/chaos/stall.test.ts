/** The chaos run's stall figure: the fault-free wait of a task in flight at a fault's recovery. */
import { strict as assert } from 'node:assert';
import type { InjectedFault } from '../../bench/chaos/faults';
import { faultFreeMs, longestStall, SUBMITTED, type TaskTimeline } from '../../bench/chaos/stall';

const fault = (at: number, recoveredAt: number, kind: InjectedFault['kind'] = 'worker'): InjectedFault => ({
  kind,
  detail: `${kind} at ${at}`,
  at,
  recoveredAt,
});
const task = (submittedAt: number, ...steps: Array<[string, number]>): TaskTimeline => ({
  submittedAt,
  transitions: steps.map(([toState, at]) => ({ toState, at })),
});

describe('chaos stall', () => {
  it('is the wait from a fault’s recovery to the next transition, naming the state waited in', () => {
    const byTask = new Map([['t/1', task(0, ['RECEIVED', 0], ['RUNNING', 5_000], ['COMPLETED', 40_000])]]);
    assert.deepEqual(longestStall(byTask, [fault(8_000, 10_000)], 100_000), {
      ms: 30_000,
      task: 't/1',
      fault: 'worker (worker at 8000)',
      state: 'RUNNING',
    });
  });

  it('does not charge a later fault’s outage to the fault before it', () => {
    const byTask = new Map([['t/1', task(0, ['RECEIVED', 0], ['RUNNING', 5_000], ['COMPLETED', 90_000])]]);
    const faults = [fault(8_000, 10_000), fault(30_000, 70_000, 'postgres')];
    assert.equal(faultFreeMs(10_000, 90_000, faults), 40_000);
    const stall = longestStall(byTask, faults, 100_000);
    assert.equal(stall.ms, 40_000);
    assert.match(stall.fault ?? '', /^worker/);
  });

  it('ignores tasks that ended before, or were submitted after, the recovery; an unfinished one waits until the end', () => {
    const byTask = new Map([
      ['done', task(0, ['RECEIVED', 0], ['COMPLETED', 5_000])],
      ['later', task(20_000, ['RECEIVED', 20_000], ['COMPLETED', 99_000])],
      ['stuck', task(0, ['RECEIVED', 0], ['ROUTING', 1_000])],
    ]);
    const stall = longestStall(byTask, [fault(8_000, 10_000)], 60_000);
    assert.deepEqual([stall.task, stall.state, stall.ms], ['stuck', 'ROUTING', 50_000]);
  });

  it('counts a task stuck before its first database row from its submission', () => {
    const byTask = new Map([['late row', task(20_000, ['RECEIVED', 100_000], ['COMPLETED', 110_000])]]);
    const stall = longestStall(byTask, [fault(8_000, 30_000, 'postgres')], 120_000);
    assert.deepEqual([stall.task, stall.state, stall.ms], ['late row', SUBMITTED, 70_000]);
  });

  it('counts a submitted task that never got a row as waiting until the end', () => {
    const stall = longestStall(new Map([['no row', task(5_000)]]), [fault(8_000, 10_000)], 60_000);
    assert.deepEqual([stall.task, stall.state, stall.ms], ['no row', SUBMITTED, 50_000]);
  });
});
