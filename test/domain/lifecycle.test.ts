/** The lifecycle transition table, checked edge by edge against DESIGN.md. */
import assert from 'node:assert/strict';
import {
  IllegalTransitionError,
  TASK_STATES,
  TERMINAL_STATES,
  assertTransition,
  isTerminal,
  nextStates,
  type TaskState,
} from '../../domain/lifecycle';

/** Spelled out here, not imported, so a wrong list in the domain fails this test. */
const HAPPY_PATH: TaskState[] = [
  'RECEIVED',
  'VALIDATING_SPEC',
  'SPEC_APPROVED',
  'ROUTING',
  'ROUTED',
  'EXECUTING',
  'EXECUTION_COMPLETE',
  'VERIFYING',
  'VERIFIED',
  'COMPLETED',
];
/** Every step past RECEIVED and short of COMPLETED may fail, except SPEC_APPROVED. */
const MAY_FAIL = HAPPY_PATH.slice(1, -1).filter((s) => s !== 'SPEC_APPROVED');
const TERMINALS: TaskState[] = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];
const NON_TERMINALS: TaskState[] = HAPPY_PATH.slice(0, -1);

/** The whole table written out by hand from DESIGN.md, independent of the implementation. */
const EXPECTED: Record<TaskState, TaskState[]> = {
  RECEIVED: ['VALIDATING_SPEC', 'CANCELLED'],
  VALIDATING_SPEC: ['SPEC_APPROVED', 'REJECTED', 'FAILED', 'CANCELLED'],
  SPEC_APPROVED: ['ROUTING', 'CANCELLED'],
  ROUTING: ['ROUTED', 'FAILED', 'CANCELLED'],
  ROUTED: ['EXECUTING', 'FAILED', 'CANCELLED'],
  EXECUTING: ['EXECUTION_COMPLETE', 'FAILED', 'CANCELLED'],
  EXECUTION_COMPLETE: ['VERIFYING', 'FAILED', 'CANCELLED'],
  // Back to EXECUTING: blocking gates failed and the policy allows the agent another attempt.
  VERIFYING: ['VERIFIED', 'EXECUTING', 'FAILED', 'CANCELLED'],
  VERIFIED: ['COMPLETED', 'FAILED', 'CANCELLED'],
  COMPLETED: [],
  REJECTED: [],
  FAILED: [],
  CANCELLED: [],
};

function allowed(from: TaskState, to: TaskState): boolean {
  try {
    assertTransition(from, to);
    return true;
  } catch (err) {
    assert.ok(err instanceof IllegalTransitionError, `unexpected error type ${String(err)}`);
    return false;
  }
}

describe('lifecycle transition table', () => {
  it('lists exactly the thirteen states of the design', () => {
    assert.deepEqual([...TASK_STATES].sort(), [...HAPPY_PATH, 'REJECTED', 'FAILED', 'CANCELLED'].sort());
    assert.deepEqual([...TERMINAL_STATES].sort(), [...TERMINALS].sort());
  });

  it('matches the design table for every (from, to) pair', () => {
    for (const from of TASK_STATES) {
      assert.deepEqual([...nextStates(from)].sort(), [...EXPECTED[from]].sort(), `nextStates(${from})`);
      for (const to of TASK_STATES) {
        assert.equal(allowed(from, to), EXPECTED[from].includes(to), `${from} -> ${to}`);
      }
    }
  });

  it('chains the happy path RECEIVED … COMPLETED one step at a time', () => {
    for (let i = 0; i + 1 < HAPPY_PATH.length; i++) {
      assert.doesNotThrow(() => assertTransition(HAPPY_PATH[i], HAPPY_PATH[i + 1]));
      assert.ok(nextStates(HAPPY_PATH[i]).includes(HAPPY_PATH[i + 1]));
    }
  });

  it('does not let the happy path skip a step', () => {
    for (let i = 0; i + 2 < HAPPY_PATH.length; i++) {
      assert.throws(() => assertTransition(HAPPY_PATH[i], HAPPY_PATH[i + 2]), IllegalTransitionError);
    }
    assert.throws(() => assertTransition('RECEIVED', 'COMPLETED'), IllegalTransitionError);
  });

  it('rejects only from VALIDATING_SPEC', () => {
    for (const from of TASK_STATES) {
      assert.equal(allowed(from, 'REJECTED'), from === 'VALIDATING_SPEC', `${from} -> REJECTED`);
    }
  });

  it('fails from VALIDATING_SPEC through VERIFIED (except SPEC_APPROVED) and from nowhere else', () => {
    for (const from of MAY_FAIL) assert.equal(allowed(from, 'FAILED'), true, `${from} -> FAILED`);
    for (const from of ['RECEIVED', 'SPEC_APPROVED'] as TaskState[]) {
      assert.throws(() => assertTransition(from, 'FAILED'), IllegalTransitionError, `${from} -> FAILED`);
    }
    for (const from of TERMINALS) assert.equal(allowed(from, 'FAILED'), false, `${from} -> FAILED`);
  });

  it('cancels from every non-terminal state', () => {
    for (const from of NON_TERMINALS) assert.equal(allowed(from, 'CANCELLED'), true, `${from} -> CANCELLED`);
  });

  it('gives terminal states no exits at all', () => {
    for (const from of TERMINALS) {
      assert.equal(isTerminal(from), true);
      assert.deepEqual(nextStates(from), []);
      for (const to of TASK_STATES)
        assert.throws(() => assertTransition(from, to), IllegalTransitionError, `${from} -> ${to}`);
    }
    for (const from of NON_TERMINALS) assert.equal(isTerminal(from), false, from);
  });

  it('never allows a self-transition or going backwards', () => {
    for (const s of TASK_STATES) assert.equal(allowed(s, s), false, `${s} -> ${s}`);
    for (let i = 1; i < HAPPY_PATH.length; i++) assert.equal(allowed(HAPPY_PATH[i], HAPPY_PATH[i - 1]), false);
  });

  it('IllegalTransitionError names both states', () => {
    assert.throws(
      () => assertTransition('COMPLETED', 'EXECUTING'),
      (e: unknown) => {
        assert.ok(e instanceof IllegalTransitionError);
        assert.ok(e instanceof Error);
        assert.equal(e.name, 'IllegalTransitionError');
        assert.equal(e.from, 'COMPLETED');
        assert.equal(e.to, 'EXECUTING');
        assert.equal(e.message, 'illegal lifecycle transition COMPLETED -> EXECUTING');
        return true;
      },
    );
  });
});
