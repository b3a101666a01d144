/**
 * The bundled example: a small git repository, a CAWS spec for a feature in it, and a scripted
 * agent whose plan implements that feature — enough to run the whole lifecycle end to end.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AgentRegistration } from '../domain/agent';
import type { TaskInput } from '../domain/task';
import { projectRoot } from './paths';

/** The scripted agent `arbiter start` registers. */
export const EXAMPLE_AGENT_ID = 'example-scripted';

/** The name `arbiter start` registers the example repository under, for the `default` tenant. */
export const EXAMPLE_REPO = { tenantId: 'default', name: 'example' } as const;

function examplesDir(): string {
  return path.join(projectRoot(), 'examples');
}

/** Creates `<home>/example-repo` (a git repo with one commit) unless it already exists. */
export function ensureExampleRepo(home: string): string {
  const repo = path.join(home, 'example-repo');
  if (existsSync(path.join(repo, '.git'))) return repo;
  cpSync(path.join(examplesDir(), 'greeter-repo'), repo, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync(
      'git',
      ['-c', 'user.name=Arbiter Example', '-c', 'user.email=example@localhost', '-C', repo, ...args],
      { stdio: 'ignore' },
    );
  git('init', '--quiet', '--initial-branch=main');
  git('add', '--all');
  git('commit', '--quiet', '-m', 'greeter: initial version');
  return repo;
}

/** Registration of the example scripted agent. */
export function exampleAgent(): AgentRegistration {
  return {
    id: EXAMPLE_AGENT_ID,
    // Scoped to the example's tenant: registering it in a shared database must not offer it to everyone.
    tenantId: 'default',
    name: 'Example scripted agent (adds farewell())',
    kind: 'scripted',
    config: JSON.parse(readFileSync(path.join(examplesDir(), 'greeter.agent.json'), 'utf8')) as Record<string, unknown>,
    capabilities: { taskTypes: ['feature'], languages: ['javascript'], tags: ['example'] },
    maxConcurrency: 4,
  };
}

/** A fresh example task against the registered example repository, with the example's test as its gate. */
export function exampleTask(taskId: string): TaskInput {
  return {
    tenantId: EXAMPLE_REPO.tenantId,
    taskId,
    specYaml: readFileSync(path.join(examplesDir(), 'greeter.spec.yaml'), 'utf8'),
    repo: EXAMPLE_REPO.name,
    agentHint: EXAMPLE_AGENT_ID,
    gates: [{ name: 'test', argv: ['node', 'test.js'], timeoutSeconds: 60 }],
  };
}
