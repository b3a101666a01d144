/** Verdict payloads: deterministic bytes, outcome rules, and evidence referenced not copied. */
import assert from 'node:assert/strict';
import type { DiffSummary } from '../../domain/activity-io';
import type { GateResult } from '../../domain/task';
import { canonicalJson } from '../../domain/canonical';
import { buildVerdictPayload, decideOutcome } from '../../domain/verdict';

const pass = (name: string, extra: Partial<GateResult> = {}): GateResult => ({
  name,
  kind: 'command',
  source: 'submitter',
  status: 'pass',
  detail: 'ok',
  ...extra,
});
const fail = (name: string): GateResult => ({
  name,
  kind: 'command',
  source: 'submitter',
  status: 'fail',
  detail: 'exit 1',
  exitCode: 1,
});

describe('canonicalJson', () => {
  it('is independent of key insertion order', () => {
    const a = canonicalJson({ b: 1, a: 2, c: { z: true, y: null } });
    const b = canonicalJson({ c: { y: null, z: true }, a: 2, b: 1 });
    assert.equal(a, b);
    assert.equal(a, '{"a":2,"b":1,"c":{"y":null,"z":true}}');
  });

  it('sorts keys at every depth, including objects inside arrays, and keeps array order', () => {
    const value = { z: [{ d: 4, c: 3 }, [{ f: 1, e: 2 }], 'x'], a: { m: { q: 1, p: 2 } } };
    assert.equal(canonicalJson(value), '{"a":{"m":{"p":2,"q":1}},"z":[{"c":3,"d":4},[{"e":2,"f":1}],"x"]}');
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  });

  it('drops undefined properties but keeps null', () => {
    assert.equal(canonicalJson({ a: undefined, b: null, c: 1 }), '{"b":null,"c":1}');
    assert.equal(canonicalJson({ a: undefined, c: 1 }), canonicalJson({ c: 1 }));
    assert.equal(canonicalJson({ nested: { gone: undefined } }), '{"nested":{}}');
  });

  it('serialises scalars as JSON does and sorts keys by code unit, not locale', () => {
    assert.equal(canonicalJson('a"b'), '"a\\"b"');
    assert.equal(canonicalJson(1.5), '1.5');
    assert.equal(canonicalJson(true), 'true');
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson({ b: 1, B: 2, a: 3, _: 4 }), '{"B":2,"_":4,"a":3,"b":1}');
  });

  it('produces parseable JSON equal to the input', () => {
    const value = { tenant: 't', gates: [{ name: 'g', exitCode: 0 }], n: -3 };
    assert.deepEqual(JSON.parse(canonicalJson(value)), value);
  });
});

describe('decideOutcome', () => {
  it('is FAIL with no gates at all', () => {
    assert.equal(decideOutcome([]), 'FAIL');
  });
  it('is PASS only when every gate passes', () => {
    assert.equal(decideOutcome([pass('budget'), pass('scope'), pass('test')]), 'PASS');
  });
  it('is FAIL when any gate fails, wherever it is', () => {
    assert.equal(decideOutcome([fail('budget'), pass('scope')]), 'FAIL');
    assert.equal(decideOutcome([pass('budget'), fail('scope')]), 'FAIL');
    assert.equal(decideOutcome([pass('a'), pass('b'), fail('c')]), 'FAIL');
  });
});

describe('buildVerdictPayload', () => {
  const diff: DiffSummary = {
    digest: 'sha256:' + 'd'.repeat(64),
    treeId: 'e'.repeat(40),
    filesChanged: 2,
    linesAdded: 10,
    linesDeleted: 3,
    bytesAdded: 200,
    binaryFiles: 1,
    leftBehind: { count: 0, paths: [] },
    nestedRepositories: [],
    artifactId: 'artifact-1',
  };
  const run = { workflowId: 'task/tenant-a/task-1', runId: 'run-1' };
  const policy = {
    source: 'current' as const,
    digest: 'sha256:' + 'p'.repeat(64),
    file: '.caws/policy.yaml',
    ref: 'refs/heads/main',
    commit: 'f'.repeat(40),
  };
  const base = {
    tenantId: 'tenant-a',
    taskId: 'task-1',
    run,
    policy,
    specId: 'SPEC-1',
    specDigest: 'sha256:' + 's'.repeat(64),
    agentId: 'agent-x',
    baseCommit: 'c'.repeat(40),
    diff,
  };

  it('drops every gate outputTail but keeps the rest of the evidence', () => {
    const gates: GateResult[] = [
      pass('test', {
        exitCode: 0,
        durationMs: 12,
        outputDigest: 'sha256:' + 'a'.repeat(64),
        outputTail: 'SECRET TAIL',
      }),
      pass('budget', { kind: 'budget', outputTail: 'another tail' }),
    ];
    const payload = buildVerdictPayload({ ...base, gates });
    assert.deepEqual(payload.gates, [
      {
        name: 'test',
        kind: 'command',
        source: 'submitter',
        status: 'pass',
        detail: 'ok',
        exitCode: 0,
        durationMs: 12,
        outputDigest: 'sha256:' + 'a'.repeat(64),
      },
      { name: 'budget', kind: 'budget', source: 'submitter', status: 'pass', detail: 'ok' },
    ]);
    for (const g of payload.gates) assert.equal('outputTail' in g, false);
    assert.doesNotMatch(canonicalJson(payload), /TAIL|another tail/);
    assert.equal(gates[0].outputTail, 'SECRET TAIL', 'input must not be mutated');
  });

  it('states the outcome from the gates and copies the identifying fields', () => {
    const passing = buildVerdictPayload({ ...base, gates: [pass('a')] });
    assert.deepEqual(passing, {
      schema: 'arbiter.verdict/v2',
      tenantId: 'tenant-a',
      taskId: 'task-1',
      run,
      policy,
      outcome: 'PASS',
      specId: 'SPEC-1',
      specDigest: base.specDigest,
      agentId: 'agent-x',
      baseCommit: base.baseCommit,
      diff: {
        digest: diff.digest,
        treeId: diff.treeId,
        filesChanged: 2,
        linesAdded: 10,
        linesDeleted: 3,
        bytesAdded: 200,
        binaryFiles: 1,
      },
      gates: [{ name: 'a', kind: 'command', source: 'submitter', status: 'pass', detail: 'ok' }],
      waivers: [],
      approvals: [],
    });
    assert.equal(buildVerdictPayload({ ...base, gates: [pass('a'), fail('b')] }).outcome, 'FAIL');
    assert.equal(buildVerdictPayload({ ...base, gates: [] }).outcome, 'FAIL');
  });

  it('copies only the summary fields of the diff (no artifact id)', () => {
    const payload = buildVerdictPayload({ ...base, diff: { ...diff, extra: 'x' } as DiffSummary, gates: [pass('a')] });
    assert.deepEqual(Object.keys(payload.diff).sort(), [
      'binaryFiles',
      'bytesAdded',
      'digest',
      'filesChanged',
      'linesAdded',
      'linesDeleted',
      'treeId',
    ]);
  });

  it('gives equal bytes for equal evidence regardless of tail or key order', () => {
    const one = buildVerdictPayload({ ...base, gates: [pass('t', { outputTail: 'x', exitCode: 0 })] });
    const two = buildVerdictPayload({
      ...base,
      gates: [
        {
          exitCode: 0,
          detail: 'ok',
          status: 'pass',
          kind: 'command',
          source: 'submitter',
          name: 't',
          outputTail: 'different',
        },
      ],
    });
    assert.equal(canonicalJson(one), canonicalJson(two));
  });
});
