/**
 * Steps that need the task's workspace. A workspace lives on one worker host; when that host
 * disappears (its queue stops answering), the workspace is rebuilt on whichever worker takes
 * the task next and the agent runs again, so the task continues instead of failing.
 */
import { CancellationScope, log } from '@temporalio/workflow';
import { hasPatch } from './patches';
import type { AgentRunResult, PreparedWorkspace } from '../domain/activity-io';
import type { RepoPolicy } from '../domain/repo-policy';
import { acceptanceCommands } from '../domain/gate-names';
import type { GateCommand, GateSource } from '../domain/task';
import { isHostLost, issueVerdict, onHost, prepareWorkspace } from './activity-proxies';
import { hostSteps, runAgentIn } from './agent-run';
import { whenSandboxUidFree } from './sandbox-uid-wait';
import type { RunSpec } from './run-spec';
import type { TaskRun } from './task-run';
import type { GrantedDeskWaiver } from './waiver';

/** The workspace the workflow addresses: where it is and which worker queue holds it. */
export type Workspace = PreparedWorkspace;

const MAX_REBUILDS = 3;

/** Each acceptance criterion with a `test_command` is a gate of its own. */
function acceptanceGates({ spec }: RunSpec): GateCommand[] {
  return acceptanceCommands(spec).map((command) => ({ ...command, timeoutSeconds: 600 }));
}

/** Every command gate with who asked for it: the repository's policy first, then the submitter's, then the spec's. */
function commandGates(
  task: TaskRun,
  validated: RunSpec,
  policy: RepoPolicy,
): Array<{ gate: GateCommand; source: Exclude<GateSource, 'arbiter'> }> {
  return [
    ...policy.commands.map((c) => ({ gate: { ...c, timeoutSeconds: 600 }, source: 'policy' as const })),
    ...task.input.gates.map((gate) => ({ gate, source: 'submitter' as const })),
    ...acceptanceGates(validated).map((gate) => ({ gate, source: 'acceptance' as const })),
  ];
}

/**
 * Runs `attempt` in `first`, or in a workspace from `rebuild` when there is none; when the
 * workspace's host is lost, calls `onLost` and runs it again in a rebuilt one, at most
 * MAX_REBUILDS times. The one loop behind every "rebuild when the host is lost".
 */
async function withRebuild<T>(
  first: Workspace | undefined,
  rebuild: () => Promise<Workspace>,
  attempt: (ws: Workspace) => Promise<T>,
  onLost: (ws: Workspace | undefined) => void,
): Promise<T> {
  let ws = first;
  for (let rebuilds = 0; ; rebuilds++) {
    try {
      ws ??= await rebuild();
      return await attempt(ws);
    } catch (err) {
      if (!isHostLost(err) || rebuilds >= MAX_REBUILDS) throw err;
      onLost(ws);
      ws = undefined;
    }
  }
}

/** Prepares a fresh workspace on any worker and runs the agent in it on that worker. */
export async function buildWorkspace(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
): Promise<{ workspace: Workspace; run: AgentRunResult }> {
  const { tenantId, taskId, baseRef } = task.input;
  const prepare = async () => {
    const ws = await whenSandboxUidFree(() => prepareWorkspace({ tenantId, taskId, repoPath: task.repoPath, baseRef }));
    task.recordWorkspace(ws);
    const { setup } = task.trustedPolicy().policy;
    if (setup)
      await hostSteps(task, ws).installDependencies(setup.timeoutSeconds)({
        tenantId,
        taskId,
        workspacePath: ws.workspacePath,
        baseCommit: ws.baseCommit,
        setup,
      });
    return ws;
  };
  const runAgent = async (workspace: Workspace) => ({
    workspace,
    run: await runAgentIn(task, validated, agentId, workspace),
  });
  return withRebuild(undefined, prepare, runAgent, (lost) =>
    log.warn('workspace host lost before the agent ran; preparing again', { hostQueue: lost?.hostQueue }),
  );
}

/**
 * Runs the agent again, with the feedback, in the workspace that holds its failed change (a
 * change refused outright is not kept: the agent starts from the base) or, when its host is
 * lost, in a new one.
 */
export async function retryAgent(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
  ws: Workspace,
): Promise<{ workspace: Workspace; run: AgentRunResult }> {
  if (!task.retry?.fromTree && task.agentKind === 'openai') {
    // A conversation works in the live workspace: a refused change goes with it, to a fresh one.
    await releaseOn(task, ws.hostQueue, `${task.input.hostLossTimeoutSeconds}s`, false);
    task.discardWorkspace();
    return buildWorkspace(task, validated, agentId);
  }
  try {
    return { workspace: ws, run: await runAgentIn(task, validated, agentId, ws) };
  } catch (err) {
    if (!isHostLost(err)) throw err;
    log.warn('workspace host lost before the retry ran; the agent starts again from the base', {
      hostQueue: ws.hostQueue,
    });
    return buildWorkspace(task, validated, agentId);
  }
}

/** Measures the change, checks budget and scope and runs every gate; returns the workspace verified. */
export async function verifyInWorkspace(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
  first: Workspace,
): Promise<Workspace> {
  const rebuild = async () => {
    const { workspace, run } = await buildWorkspace(task, validated, agentId);
    task.recordAgentRun(run);
    return workspace;
  };
  const ws = await withRebuild(
    first,
    rebuild,
    (ws) => gateWorkspace(task, validated, ws),
    (lost) => {
      log.warn('workspace host lost; rebuilding the workspace', { hostQueue: lost?.hostQueue });
      task.setSubState('rebuilding workspace (host lost)');
    },
  );
  task.setSubState(null);
  return ws;
}

/** One verification pass in `ws`: the diff, the arbiter's budget and scope checks, then every command gate. */
async function gateWorkspace(task: TaskRun, validated: RunSpec, ws: Workspace): Promise<Workspace> {
  const { tenantId, taskId } = task.input;
  const { policy, provenance } = task.trustedPolicy();
  const steps = hostSteps(task, ws);
  const { attempt } = task;
  const at = { tenantId, taskId, workspacePath: ws.workspacePath, baseCommit: ws.baseCommit, attempt };
  const diff = await steps.measureDiff(at);
  task.recordDiff(diff);
  task.setGates(
    await steps.checkBudgetAndScope({
      ...at,
      treeId: diff.treeId,
      spec: await validated.forActivity(),
      policy,
      specWarnings: validated.warnings,
      leftBehind: diff.leftBehind,
      nestedRepositories: diff.nestedRepositories,
      trustedCommit: provenance.commit,
    }),
  );
  for (const { gate, source } of commandGates(task, validated, policy)) {
    task.setSubState(`gate:${gate.name}`);
    const mode = (Object.hasOwn(policy.gateModes, gate.name) && policy.gateModes[gate.name]) || 'block';
    task.addGate(
      await steps.runGate(gate)({
        tenantId,
        taskId,
        workspacePath: ws.workspacePath,
        treeId: diff.treeId,
        gate,
        source,
        mode,
        attempt,
      }),
    );
  }
  return ws;
}

/** Signs and records the verdict over the gates as they stand (waivers applied). */
export async function recordVerdict(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
  ws: { baseCommit: string },
  waiver?: GrantedDeskWaiver,
): Promise<void> {
  const { tenantId, taskId, repo } = task.input;
  const { spec, specDigest } = validated;
  const policy = task.trustedPolicy().provenance;
  const verdict = await issueVerdict({
    tenantId,
    taskId,
    specId: spec.id,
    specDigest,
    agentId,
    baseCommit: ws.baseCommit,
    diff: task.snapshot.diff!,
    gates: task.snapshot.gates,
    policy,
    waivers: waiver ? [waiver.waiverId] : [],
    ...(task.adoptedFrom ? { adoptedFrom: task.adoptedFrom } : {}),
    attempts: task.snapshot.attempts,
    ...(task.candidatesForVerdict ? { candidates: task.candidatesForVerdict } : {}),
    riskTier: spec.riskTier,
    // For a worker of the release before, during a rolling upgrade (see IssueVerdictInput).
    verifiedAt: new Date().toISOString(),
    repo,
  });
  task.setVerdict({ outcome: verdict.outcome, digest: verdict.digest });
}

/** Best effort: `keep` marks it for the retention sweep, otherwise it is emptied (its sandbox uid lease too) and swept later. */
async function releaseOn(task: TaskRun, hostQueue: string, hostLossTimeout: string, keep: boolean): Promise<void> {
  const { tenantId, taskId } = task.input;
  await CancellationScope.nonCancellable(() =>
    onHost(hostQueue, hostLossTimeout).releaseWorkspace({ tenantId, taskId, keep }),
  ).catch((err: Error) => log.warn('workspace not released', { hostQueue, error: err.message }));
}

/** Since this patch, a workspace left on a host given up as lost is marked for that host's retention sweep. */
const RELEASE_ABANDONED_WORKSPACES = 'release-abandoned-workspaces';

/**
 * Best effort, after the task has ended: emptied when it completed, retained for inspection
 * otherwise. A workspace left behind on a lost host has no retention marker, so that host's
 * sweep would remove it (and free its sandbox uid) only as an orphan, a retention after the task
 * ended, if the host comes back: it is marked too, waiting for the host no longer than the task's
 * host-loss timeout.
 */
export async function releaseWorkspace(task: TaskRun): Promise<void> {
  const ws = task.snapshot.workspace;
  if (!ws) return;
  await releaseOn(task, ws.hostQueue, '1m', task.state !== 'COMPLETED');
  const abandoned = task.abandonedHosts.filter((q) => q !== ws.hostQueue);
  if (abandoned.length === 0 || !hasPatch(RELEASE_ABANDONED_WORKSPACES)) return;
  const timeout = `${task.input.hostLossTimeoutSeconds}s`;
  await Promise.all(abandoned.map((q) => releaseOn(task, q, timeout, true)));
}
