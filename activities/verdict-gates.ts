/**
 * The gates a verdict states, held to the results their activities stored: the workflow hands the
 * gates over as activities returned them, and anyone who may write to the namespace can complete
 * an activity by its id with a result of their choosing (`temporal activity complete`) or run
 * workflow code of their own. What the verdict signs of each gate is the stored row's.
 */
import { clipText, escapeNul, storableValue } from '../domain/bounds';
import type { GateResult } from '../domain/task';
import type { Db } from '../db/client';
import { hasTreelessGateResults, latestGateResults, type StoredGate } from '../db/gate-results';
import type { RunKey } from '../db/run-policies';
import { ownValidatedSpec, specContentDigest } from './spec-refs';

/** Which runs' stored results may stand for the judged run's, and the spec that must have fixed them. */
export interface GateRecordScope {
  fromRuns?: ReadonlySet<string>;
  failuresFrom?: ReadonlySet<string>;
  specDigest?: string;
}

/** How the stated gates differ from the record, and the stored row of each gate stated. */
export interface GateCheck {
  problems: string[];
  rows: ReadonlyMap<string, StoredGate>;
}

/**
 * How the gates a verdict is asked to sign differ from the results stored for the tree it judges:
 * a failed gate reported passed, a failing check left out, a check run again on the same change
 * until it passes, a gate's command or origin misstated. The stored rows are written by the
 * activities themselves, on a worker, naming the tree and the spec that fixed them (a waiver granted
 * for the tree passes its budget row); a run reset past verification finds its predecessor's,
 * among `fromRuns`, and only those fixed by the spec the verdict names. A verdict that fails
 * anyway is issued.
 */
export async function storedGateProblems(
  db: Db,
  judged: RunKey,
  change: { treeId: string; baseCommit: string },
  gates: readonly GateResult[],
  runs: GateRecordScope,
): Promise<GateCheck> {
  const { treeId, baseCommit } = change;
  const none: GateCheck = { problems: [], rows: new Map() };
  if (gates.length === 0) return none;
  const stored = await latestGateResults(db, judged, treeId, runs.fromRuns, runs.failuresFrom);
  if (stored.size === 0 && (await hasTreelessGateResults(db, judged))) return none;
  const fixedBy = await specsFixing(db, judged, stored);
  const failing = gates.some((g) => g.status === 'fail');
  const problems = gates.flatMap((g) => {
    const row = stored.get(g.name);
    if (!row) return [`gate ${g.name}: no result of it was stored for tree ${treeId}`];
    if (row.baseCommit && row.baseCommit !== baseCommit)
      return [`gate ${g.name}: judged the change from ${row.baseCommit}, the verdict names base ${baseCommit}`];
    const differs = storedOtherwise(row, g);
    if (differs) return [`gate ${g.name}: ${differs}`];
    const spec = fixedBy.get(g.name);
    if (spec !== undefined && runs.specDigest && spec !== runs.specDigest)
      return [
        `gate ${g.name}: judged by spec ${spec ?? '(none validated)'}, not by the spec the verdict names (${runs.specDigest})`,
      ];
    const before = failing ? undefined : row.failedBefore;
    if (!before) return [];
    return [
      `gate ${g.name}: failed on tree ${treeId} in attempt ${before.attempt} of run ${before.runId}; a later pass of the same check on the same change does not stand`,
    ];
  });
  return { problems: [...problems, ...leftOut(stored, gates)], rows: stored };
}

/** The stored gates `gates` leave out. */
export function leftOut(rows: ReadonlyMap<string, StoredGate>, gates: readonly GateResult[]): string[] {
  const named = new Set(gates.map((g) => g.name));
  return [...rows]
    .filter(([name]) => !named.has(name))
    .map(([name, row]) => `gate ${name}: stored as ${row.status}, left out`);
}

/**
 * The digest of the spec that fixed each stored gate a spec fixes (Arbiter's gates, the acceptance
 * tests): as its row names it, or for a row stored before migration 0025, the spec its own run
 * validated (null when that run validated none), so a task in flight across the upgrade cannot
 * borrow a lax spec's results either. The policy's and a submitter's commands are left out.
 */
async function specsFixing(
  db: Db,
  judged: RunKey,
  stored: ReadonlyMap<string, StoredGate>,
): Promise<Map<string, string | null>> {
  const fixed = [...stored].filter(([name, row]) => row.kind !== 'command' || name.startsWith('acceptance-'));
  const legacyRuns = new Set(fixed.filter(([, row]) => row.specDigest === null).map(([, row]) => row.runId));
  const ownSpecs = await Promise.all(
    [...legacyRuns].map(async (runId) => {
      const spec = await ownValidatedSpec(db, { ...judged, runId });
      return [runId, spec ? specContentDigest(spec) : null] as const;
    }),
  );
  const legacy = new Map(ownSpecs);
  return new Map(fixed.map(([name, row]) => [name, row.specDigest ?? legacy.get(row.runId) ?? null]));
}

/**
 * How a gate as handed over differs from what its activity stored: its kind and status, the words
 * the verdict quotes (a NUL stored as `\0`), the exit code, where the gate came from and the command
 * it ran, never a workflow's. Not the output's digest: an attempt Temporal gave up on may store the
 * same check's run after the one the workflow got, with the same exit code and other output
 * (timings); the verdict signs the stored row's.
 */
export function storedOtherwise(row: StoredGate, g: GateResult): string | undefined {
  if (row.kind !== g.kind || row.status !== g.status)
    return `stored as ${row.kind} ${row.status}, handed over as ${g.kind} ${g.status}`;
  if (row.detail !== escapeNul(g.detail))
    return `stored with detail ${JSON.stringify(clipText(row.detail, 200))}, handed over with another`;
  const exitCode = g.exitCode ?? null;
  if (row.exitCode !== exitCode) return `stored with exit code ${row.exitCode}, handed over with ${exitCode}`;
  // Rows stored before migration 0026 name neither; an argv is stored as jsonb holds it.
  const stated = ranBy(g.source, g.argv && storableValue(g.argv));
  if (row.source !== null && ranBy(row.source, row.argv ?? undefined) !== stated)
    return `stored as run by ${ranBy(row.source, row.argv ?? undefined)}, handed over as run by ${stated}`;
  return undefined;
}

const ranBy = (source: string, argv?: readonly string[]) => (argv ? `${source} ${JSON.stringify(argv)}` : source);

/**
 * A gate as a verdict signs it: the fields a verdict states and no others, its origin, command,
 * timing and output digest from the stored row (a row stored before migration 0026 names no
 * origin or command: the stated ones stand).
 */
export function signedGate(g: GateResult, row?: StoredGate): Omit<GateResult, 'outputTail'> {
  const source = row?.source ?? g.source;
  const argv = row?.source ? (row.argv ?? undefined) : g.argv;
  const durationMs = row ? (row.durationMs ?? undefined) : g.durationMs;
  const outputDigest = row ? (row.outputDigest ?? undefined) : g.outputDigest;
  const stated = { name: g.name, kind: g.kind, source, argv, status: g.status, detail: g.detail };
  const gate = { ...stated, exitCode: g.exitCode, durationMs, outputDigest };
  return Object.fromEntries(Object.entries(gate).filter(([, v]) => v !== undefined)) as Omit<GateResult, 'outputTail'>;
}
