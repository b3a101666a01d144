/** The chaos run's fault injector: which kinds it injects, in what order, when it stops. */
import { strict as assert } from 'node:assert';
import { FAULT_KINDS, injectFaults, type FaultKind, type FaultTargets } from '../../bench/chaos/faults';

/** Parts that break and recover at once, so the injector's schedule is all that is exercised. */
const instantParts: FaultTargets = {
  workers: { count: 2, killAndRestart: async () => undefined },
  temporal: { outage: async () => 'fake server' },
  postgres: { stop: async () => undefined, restart: async () => undefined },
};

const injectKinds = async (kinds: FaultKind[], stopAt: number) =>
  (await injectFaults({ kinds, gapMs: [0, 0], postgresDownMs: [0, 0] }, instantParts, stopAt, () => undefined)).map(
    (f) => f.kind,
  );

describe('chaos fault injector', () => {
  it('injects every configured kind once, in some order, even when its time is already up', async () => {
    const kinds = await injectKinds([...FAULT_KINDS], Date.now());
    assert.deepEqual([...kinds].sort(), [...FAULT_KINDS].sort());
  });

  it('takes one of each kind per round before repeating any', async () => {
    const kinds = await injectKinds([...FAULT_KINDS], Date.now() + 50);
    const rounds = Math.floor(kinds.length / FAULT_KINDS.length);
    for (let r = 0; r < rounds; r++) {
      const round = kinds.slice(r * FAULT_KINDS.length, (r + 1) * FAULT_KINDS.length);
      assert.deepEqual([...round].sort(), [...FAULT_KINDS].sort(), `round ${r}: ${round.join(', ')}`);
    }
  });

  it('injects only the configured kinds', async () => {
    assert.deepEqual(await injectKinds(['worker'], Date.now()), ['worker']);
  });
});
