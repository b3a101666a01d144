/**
 * `doctor`'s view of the agent presets and the model keys: for each preset, whether it can run on
 * this worker and, when not, why — binary missing, not runnable, the model key's variable unset or
 * not allowed to its vendor by ARBITER_MODEL_KEYS, or a protocol the gateway lacks. A key's value is
 * never read beyond "set or not", and never printed.
 */
import { AGENT_PRESETS, presetDefinition, presetToolDirs, presetUnsupportedReason } from '../../domain/agent-presets';
import { toolDirRefusal, type ToolDirRules } from '../../host/sandbox/tool-dirs';
import { formatModelKeyRule, keyDestinationRefusal, type ModelKeyRule } from '../../domain/model-keys';
import { binaryVersion, findPresetBinary, isNodeScript } from '../agent-binaries';
import { projectRoot } from '../paths';

/** One preset's readiness, as doctor prints it (and its extra `--json` fields). */
export interface PresetCheck {
  name: string;
  ok: boolean;
  required: false;
  detail: string;
  preset: string;
  binary: string | null;
  version: string | null;
  keyEnv: string;
  keySet: boolean;
  /** Run end to end in the sandbox by Arbiter's own tests. */
  tested: boolean;
}

/** doctor's line for the worker's model-key rules: which variables go where, and which of them this host lacks (never a value). */
export function modelKeysDetail(rules: readonly ModelKeyRule[], env: NodeJS.ProcessEnv = process.env): string {
  if (!rules.length) return 'no model key is sent anywhere (ARBITER_MODEL_KEYS=,)';
  const unset = [...new Set(rules.map((r) => r.name).filter((n) => !env[n]))];
  const source = env.ARBITER_MODEL_KEYS ? 'ARBITER_MODEL_KEYS' : "unset: the presets' pairs";
  return `${rules.map(formatModelKeyRule).join(', ')} (${source})${unset.length ? `; not set here: ${unset.join(', ')}` : ''}`;
}

/** Readiness of every preset; never throws (each problem is a detail). */
export function presetChecks(
  rules: readonly ModelKeyRule[],
  toolDirs: ToolDirRules,
  env: NodeJS.ProcessEnv = process.env,
): PresetCheck[] {
  return AGENT_PRESETS.map((name) => {
    const def = presetDefinition(name);
    const keyEnv = def.upstream.apiKeyEnv;
    const keySet = Boolean(env[keyEnv]);
    const problems: string[] = [];
    const found: string[] = [];
    let binary: string | null = null;
    let version: string | null = null;
    const unsupported = presetUnsupportedReason(name);
    if (unsupported) problems.push(unsupported);
    const bin = findPresetBinary(def, { root: projectRoot(), pathEnv: env.PATH });
    if (!bin) problems.push(`${def.program} not found (PATH, node_modules): ${def.install}`);
    else {
      binary = bin.path;
      try {
        version = binaryVersion(bin.path);
        found.push(`${version} at ${bin.path} (${bin.source})`);
        if (isNodeScript(bin.path)) found.push('a node script: the sandbox runs it with /usr/bin/node');
        problems.push(...presetToolDirs(def, bin.path).flatMap((d) => toolDirRefusal(d, toolDirs) ?? []));
      } catch (err) {
        problems.push(`${bin.path} --version fails: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    if (keySet) found.push(`${keyEnv} set`);
    else problems.push(`${keyEnv} not set on this worker (the gateway adds the key; the sandbox never sees it)`);
    const refusal = keyDestinationRefusal(rules, def.upstream);
    if (refusal) problems.push(refusal);
    if (!def.tested) found.push('untested end to end');
    return {
      name: `preset ${name}`,
      ok: problems.length === 0,
      required: false,
      detail: [...problems, ...found].join('; '),
      preset: name,
      binary,
      version,
      keyEnv,
      keySet,
      tested: def.tested,
    };
  });
}
