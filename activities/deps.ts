/** What every activity factory receives: injected, so tests and workers wire real instances. */
import type { Db } from '../db/client';
import type { BreakerPolicy } from '../db/agent-stats';
import type { ModelGateway } from '../host/gateway/server';
import type { SandboxConfig } from '../host/sandbox/config';
import type { VerdictSigner } from '../host/signing';
import type { TemporalProfile } from '../temporal-config/connection';
import type { ModelKeyRule } from '../domain/model-keys';

/** Shared dependencies of Arbiter's activities. */
export interface ActivityDeps {
  db: Db;
  /** Root for per-task workspaces (`<home>/workspaces/<tenant>/<task>`). */
  home: string;
  /**
   * This worker's own task queue. Workspaces live on one host, so every step that touches a
   * workspace is scheduled here by the workflow, addressed from what `prepareWorkspace` returns.
   */
  hostQueue: string;
  /** How commands are confined and what a task may consume. */
  sandbox: SandboxConfig;
  /** Hours a workspace of a task that did not complete is kept for inspection (a completed one's emptied root, its attempt mark). */
  retentionHours: number;
  /** Circuit breaker for agents' infrastructure failures; the default when absent. */
  breaker?: BreakerPolicy;
  /**
   * Reads a secret (an agent's API key) by environment variable name. Supplied by the worker's
   * config module; the value goes into the model request only, never into logs or history.
   */
  secretEnv: (name: string) => string | undefined;
  /** The hosts each model key may be sent to (ARBITER_MODEL_KEYS); absent, each preset's key to its vendor only. */
  modelKeys?: readonly ModelKeyRule[];
  /** Folders an agent's `toolDirs` may lie under (ARBITER_TOOL_DIRS); absent, Arbiter's node_modules. */
  toolDirRoots?: readonly string[];
  /** The verdict signing key's file, when outside `home`: no agent's tool folder may show it. */
  signingKeyFile?: string;
  /**
   * The worker's model gateway: every command agent's and the openai loop's model traffic goes
   * through it. Absent (tests driving activities directly): command agents run without a relay.
   */
  gateway?: ModelGateway;
  /** Signs verdicts; its key id is published in every envelope. */
  signer: VerdictSigner;
  /**
   * The worker's namespace and tenant mapping: a task whose run is in another namespace than its
   * tenant's is refused. Absent (tests driving activities directly): not checked.
   */
  temporal?: Pick<TemporalProfile, 'namespace' | 'tenantNamespaces'>;
  /**
   * Asks Temporal whether a task's run (its latest when `runId` is '') is still open (routing frees
   * the capacity of closed ones: activities/capacity.ts; the sweep removes only closed tasks'
   * orphans). Absent (tests driving activities directly): every held run counts, no orphan is swept.
   */
  runIsOpen?: (run: { tenantId: string; workflowId: string; runId: string }) => Promise<boolean>;
}
