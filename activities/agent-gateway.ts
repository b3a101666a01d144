/**
 * A command agent's link to the model gateway for one run: the session opened with the
 * upstreams and budgets its registration names, its env and HOME files with the gateway's
 * placeholders filled in, and the refusal of a configuration that would carry a real key into
 * the sandbox. Every command agent runs behind the relay, upstreams or not, so whatever it tries
 * to reach over the network is refused and audited.
 */
import type { CommandConfig } from '../domain/agent';
import { stringsIn } from '../domain/literal-secrets';
import { AgentBudgetExceededError, AgentConfigError } from '../domain/errors';
import { auditGateway } from '../host/gateway/audit';
import { expandRecord } from '../domain/agent-placeholders';
import { placeholderValues } from '../host/gateway/launch';
import type { ModelGateway } from '../host/gateway/server';
import type { SessionIdentity } from '../host/gateway/session';
import type { CommandGatewayLink } from '../host/sandbox/commands';
import type { ActivityDeps } from './deps';
import { keyDestinationRefusal } from '../domain/model-keys';
import { defaultToolDirRoots, toolDirRefusal } from '../host/sandbox/tool-dirs';

/** What the agent's command gets: its environment and its gateway link. */
export interface AgentLaunch {
  env: Record<string, string>;
  link?: CommandGatewayLink;
  /** Closes the session and turns a budget stop into the named error. */
  finish(): Promise<void>;
}

/** Refuses a configuration in which a worker secret an upstream names appears verbatim where the agent reads. */
function refuseSecrets(deps: ActivityDeps, agentId: string, c: CommandConfig): void {
  const { argv, env, homeFiles } = c;
  const visible = stringsIn({ argv, env, homeFiles }, 'config').map(([, value]) => value);
  for (const u of c.gateway?.upstreams ?? []) {
    const secret = u.apiKeyEnv ? deps.secretEnv(u.apiKeyEnv) : undefined;
    if (secret && visible.some((value) => value.includes(secret)))
      throw new AgentConfigError(
        agentId,
        `its configuration contains the value of ${u.apiKeyEnv}; keys stay in the gateway`,
      );
  }
}

async function requireKeys(deps: ActivityDeps, agentId: string, c: CommandConfig): Promise<void> {
  for (const u of c.gateway?.upstreams ?? []) {
    const elsewhere = keyDestinationRefusal(deps.modelKeys, u) ?? (await deps.gateway?.networkRefusal(u));
    if (elsewhere) throw new AgentConfigError(agentId, `upstream '${u.name}': ${elsewhere}`);
  }
  const unset = (c.gateway?.upstreams ?? []).filter((u) => u.apiKeyEnv && !deps.secretEnv(u.apiKeyEnv));
  if (unset.length)
    throw new AgentConfigError(
      agentId,
      `the worker's environment has no ${unset.map((u) => `${u.apiKeyEnv} (for upstream '${u.name}')`).join(', ')}`,
    );
}

function requireToolDirs(deps: ActivityDeps, agentId: string, c: CommandConfig): void {
  const rules = {
    roots: deps.toolDirRoots ?? defaultToolDirRoots(),
    protectedPaths: [deps.home, ...(deps.signingKeyFile ? [deps.signingKeyFile] : [])],
  };
  const refused = c.toolDirs.flatMap((d) => toolDirRefusal(d, rules) ?? []);
  if (refused.length) throw new AgentConfigError(agentId, refused.join('; '));
}

/** Opens the run's session and builds the command's environment and link. */
export async function agentLaunch(
  deps: ActivityDeps,
  identity: SessionIdentity,
  c: CommandConfig,
  startedAt?: number,
): Promise<AgentLaunch> {
  // Destinations first: comparing the config with a variable the rules do not allow would tell a registration its value.
  await requireKeys(deps, identity.agentId, c);
  refuseSecrets(deps, identity.agentId, c);
  requireToolDirs(deps, identity.agentId, c);
  const gateway: ModelGateway | undefined = deps.gateway;
  if (!gateway) {
    if (c.gateway || Object.keys(c.homeFiles).length || c.toolDirs.length)
      throw new AgentConfigError(identity.agentId, 'this worker runs no model gateway');
    return { env: c.env, finish: async () => undefined };
  }
  const session = await gateway.openSession(identity, {
    upstreams: c.gateway?.upstreams ?? [],
    registries: [],
    budgets: c.gateway?.budgets ?? {},
    ...(startedAt !== undefined ? { startedAt } : {}),
  });
  let env: Record<string, string>;
  let homeFiles: Record<string, string>;
  try {
    env = expandRecord(c.env, placeholderValues(session.token));
    homeFiles = expandRecord(c.homeFiles, placeholderValues(session.token));
  } catch (err) {
    gateway.closeSession(session.id);
    throw new AgentConfigError(identity.agentId, (err as Error).message);
  }
  return {
    env,
    link: {
      socketPath: gateway.socketPath,
      session,
      homeFiles,
      toolDirs: c.toolDirs,
    },
    async finish() {
      const before = session.stopReason;
      await gateway.closeSession(session.id);
      // The calls in flight are charged as the session closes: they may cross a budget then.
      const stopped = before ?? session.stoppedFor;
      if (!stopped) return;
      await auditGateway(deps.db, session, {
        op: 'stop',
        target: identity.agentId,
        allowed: false,
        reason: stopped,
        detail: { stop: true, ...session.totals },
        always: true,
      });
      throw new AgentBudgetExceededError(identity.agentId, stopped);
    },
  };
}
