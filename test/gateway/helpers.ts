/** Running one command in a task's real sandbox behind a real gateway session, as an agent's would run. */
import { createCommandRunner, type CommandResult } from '../../host/sandbox/commands';
import { startModelGateway, type ModelGateway } from '../../host/gateway/server';
import type { GatewaySession } from '../../host/gateway/session';
import { taskSandboxUser } from '../../host/workspace';
import { TEST_MODEL_KEYS, testSandboxConfig, testStack } from '../helpers/stack';
import type { SandboxTask } from '../sandbox/escape-helpers';

/** Runs `argv` in `t`'s workspace linked to `gateway` as `session`, with `env` added. */
export function runBehindGateway(
  t: SandboxTask,
  gateway: ModelGateway,
  session: GatewaySession,
  argv: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const runCommand = createCommandRunner({
    db: testStack().database.db,
    sandbox: testSandboxConfig(),
    sandboxUser: taskSandboxUser(testStack().home, testSandboxConfig()),
    warn: () => undefined,
  });
  return runCommand({
    tenantId: t.tenantId,
    taskId: t.taskId,
    workspacePath: t.tree,
    argv,
    policy: { allowShell: true },
    timeoutMs: options.timeoutMs ?? 20_000,
    purpose: session.identity.purpose === 'setup' ? 'setup' : 'agent',
    env: options.env,
    gateway: { socketPath: gateway.socketPath, session },
  });
}

/** The secret a test gateway holds, under `FAKE_KEY`: the real upstream key no sandbox may see. */
export const REAL_KEY = 'sk-real-upstream-key-never-in-the-sandbox';

/** A gateway on the test database whose worker holds one secret, {@link REAL_KEY} as `FAKE_KEY`. */
export function startTestGateway(): Promise<ModelGateway> {
  return startModelGateway({
    db: testStack().database.db,
    secretEnv: (n) => (n === 'FAKE_KEY' ? REAL_KEY : undefined),
    modelKeys: TEST_MODEL_KEYS,
    privateUpstreams: ['127.0.0.1'],
  });
}
