/** `arbiter agents add | list | pause | resume | retire`: the registry in PostgreSQL. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { listAgents, setAgentStatus, upsertAgent, type AgentRecord } from '../../db/agents';
import type { AgentStatus } from '../../domain/agent';
import { EXIT, printLine, printRows, UsageError } from './output';
import { presetRegistration } from './agents-preset';
import { withDb } from './with-db';

const list = (value: string) =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);

function parseConfig(opts: { config?: string; configFile?: string }): Record<string, unknown> {
  const text = opts.configFile ? readFileSync(opts.configFile, 'utf8') : (opts.config ?? '{}');
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`agent config is not valid JSON: ${(err as Error).message}`);
  }
}

/** Options that only mean something with --preset, by their commander key. */
const PRESET_FLAGS: Record<string, string> = {
  model: '--model',
  upstream: '--upstream',
  keyEnv: '--key-env',
  maxTokens: '--max-tokens',
  maxCostUsd: '--max-cost-usd',
  inputUsdPerMillion: '--input-usd-per-million',
  outputUsdPerMillion: '--output-usd-per-million',
  maxWallClockSeconds: '--max-wall-clock-seconds',
  binary: '--binary',
  toolDir: '--tool-dir',
  allowModel: '--allow-model',
};

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The kind and config from `--kind` + `--config`, or built from `--preset` (warnings on stderr). */
function kindAndConfig(opts: AddOptions): { kind: 'scripted' | 'command' | 'openai'; config: Record<string, unknown> } {
  if (opts.preset) {
    const {
      id: _id,
      name: _name,
      tenant: _t,
      taskTypes: _tt,
      languages: _l,
      tags: _tg,
      maxConcurrency: _m,
      json: _j,
      ...rest
    } = opts as AddOptions & Record<string, unknown>;
    const { config, warnings } = presetRegistration(rest);
    for (const w of warnings) process.stderr.write(`arbiter: warning: ${w}\n`);
    return { kind: 'command', config };
  }
  const presetOnly = Object.keys(PRESET_FLAGS).filter(
    (k) => (opts as unknown as Record<string, unknown>)[k] !== undefined,
  );
  if (presetOnly.length)
    throw new UsageError(`${presetOnly.map((k) => PRESET_FLAGS[k]).join(', ')} only go with --preset`);
  if (!opts.kind) throw new UsageError('agents add needs --kind (scripted | command | openai) or --preset');
  return { kind: opts.kind, config: parseConfig(opts) };
}

function agentLine(a: AgentRecord): string {
  const types = a.capabilities.taskTypes.length ? a.capabilities.taskTypes.join(',') : '*';
  const preset = typeof a.config.preset === 'string' ? `  preset ${a.config.preset}` : '';
  return `${a.id.padEnd(24)} ${a.kind.padEnd(9)} ${a.status.padEnd(8)} max ${String(a.maxConcurrency).padEnd(4)} types ${types}${a.tenantId ? `  tenant ${a.tenantId}` : ''}${preset}`;
}

interface AddOptions {
  id: string;
  kind?: 'scripted' | 'command' | 'openai';
  preset?: string;
  name?: string;
  tenant?: string;
  config?: string;
  configFile?: string;
  taskTypes?: string[];
  languages?: string[];
  tags?: string[];
  maxConcurrency?: string;
  json?: boolean;
}

function statusCommand(
  agents: Command,
  name: string,
  status: AgentStatus,
  run: (fn: () => Promise<number>) => Promise<void>,
) {
  agents
    .command(name)
    .description(`set an agent ${status}`)
    .argument('<id>')
    .action((id: string) =>
      run(() =>
        withDb(async (db) => {
          const a = await setAgentStatus(db, id, status);
          printLine(agentLine(a));
          return EXIT.ok;
        }),
      ),
    );
}

/** Registers `agents …` on `program`. */
export function registerAgentCommands(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  const agents = program.command('agents').description('manage the agent registry');
  agents
    .command('add')
    .description('register (or update) an agent')
    .requiredOption('--id <id>', 'agent id')
    .option('--kind <kind>', 'scripted | command | openai (implied command with --preset)')
    .option(
      '--preset <name>',
      'a known coding-agent CLI: claude-code, codex, aider, opencode, gemini-cli, mini-swe-agent',
    )
    .option('--model <model>', 'with --preset: the model the CLI asks for')
    .option('--upstream <url>', "with --preset: the real model endpoint's base URL (default: the vendor's API)")
    .option('--key-env <name>', "with --preset: the worker's variable holding the real API key")
    .option('--max-tokens <n>', 'with --preset: token budget per run, enforced by the gateway')
    .option('--max-cost-usd <n>', 'with --preset and prices: cost budget per run (default $10 when prices are given)')
    .option('--input-usd-per-million <n>', "with --preset: the upstream's price of a million input tokens")
    .option('--output-usd-per-million <n>', "with --preset: the upstream's price of a million output tokens")
    .option('--max-wall-clock-seconds <n>', 'with --preset: time budget per run')
    .option('--binary <path>', 'with --preset: the CLI binary (default: node_modules, then PATH)')
    .option('--tool-dir <dir>', 'with --preset: a host folder the CLI needs, bound read-only (repeatable)', collect)
    .option(
      '--allow-model <model>',
      'with --preset: a model the CLI may ask for; others are refused by the gateway (repeatable; default any)',
      collect,
    )
    .option('--name <name>')
    .option('--tenant <tenant>', 'serve only this tenant (default: all tenants)')
    .option('--config <json>', 'kind-specific config as JSON')
    .option('--config-file <file>', 'kind-specific config from a JSON file')
    .option('--task-types <list>', 'comma-separated CAWS modes it handles (default: any)', list)
    .option('--languages <list>', 'comma-separated languages', list)
    .option('--tags <list>', 'comma-separated tags', list)
    .option('--max-concurrency <n>', 'tasks at once', '1')
    .option('--json')
    .action((opts: AddOptions) =>
      run(() =>
        withDb(async (db) => {
          const maxConcurrency = Number(opts.maxConcurrency ?? '1');
          if (!Number.isInteger(maxConcurrency)) throw new UsageError('--max-concurrency must be an integer');
          const { kind, config } = kindAndConfig(opts);
          const agent = await upsertAgent(db, {
            id: opts.id,
            name: opts.name,
            tenantId: opts.tenant,
            kind,
            config,
            capabilities: { taskTypes: opts.taskTypes ?? [], languages: opts.languages ?? [], tags: opts.tags ?? [] },
            maxConcurrency,
          });
          process.stdout.write(opts.json ? `${JSON.stringify(agent, null, 2)}\n` : `${agentLine(agent)}\n`);
          return EXIT.ok;
        }),
      ),
    );
  agents
    .command('list')
    .description('list registered agents')
    .option('--tenant <tenant>', 'only agents serving this tenant')
    .option('--json')
    .action((opts: { tenant?: string; json?: boolean }) =>
      run(() =>
        withDb(async (db) => {
          const all = await listAgents(db, { tenantId: opts.tenant });
          printRows(all, opts.json, agentLine);
          return EXIT.ok;
        }),
      ),
    );
  statusCommand(agents, 'pause', 'paused', run);
  statusCommand(agents, 'resume', 'active', run);
  statusCommand(agents, 'retire', 'retired', run);
}
