/**
 * The shapes of the keys model vendors, clouds and forges issue. An agent is given `{token}`,
 * which the gateway swaps for the worker's key; a literal key anywhere in its registration (a
 * command's argv, env or HOME files, a scripted plan's edits) would reach the agent or its change,
 * which Arbiter delivers, and it would sit in the agents table and in `agents list` in the clear.
 */
const SECRET_SHAPES: ReadonlyArray<readonly [string, RegExp]> = [
  // A digit in the body: keys have them, long kebab-case words (`sk-learn-models-…`) do not.
  ['an Anthropic key (sk-ant-…)', /\bsk-ant-(?=[\w-]*\d)[\w-]{20,}/],
  ['an OpenAI-style key (sk-…)', /\bsk-(?=[\w-]*\d)[\w-]{20,}/],
  ['an AWS access key id (AKIA…)', /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/],
  ['a GitHub token', /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/],
  ['a GitLab token (glpat-…)', /\bglpat-[A-Za-z0-9_-]{20,}/],
  ['a Google API key (AIza…)', /\bAIza[0-9A-Za-z_-]{35}/],
  ['a Hugging Face token (hf_…)', /\bhf_[A-Za-z0-9]{30,}/],
  ['a Slack token (xox…-)', /\bxox[abposr]-[A-Za-z0-9-]{10,}/],
  ['a private key', /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/],
];

/** What kind of key `value` holds, or undefined when it holds none Arbiter knows the shape of. */
export function literalSecretKind(value: string): string | undefined {
  return SECRET_SHAPES.find(([, shape]) => shape.test(value))?.[0];
}

/** A name (an object key) shown in a problem's path: never one that is itself a key. */
function shownName(name: string): string {
  return literalSecretKind(name) ? '<a name>' : name;
}

/** Every string in `value`, names of its objects' entries too, each with where it is (`config.env.NAME`). */
export function stringsIn(value: unknown, at: string): Array<readonly [string, string]> {
  if (typeof value === 'string') return [[at, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringsIn(v, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([name, v]) => {
    const where = `${at}.${shownName(name)}`;
    return [[`${where} (its name)`, name] as const, ...stringsIn(v, where)];
  });
}

/**
 * One problem per string anywhere in `config` (argv, env names and values, HOME file names and
 * contents, URLs, a scripted plan's edits) that holds a key, naming where and the kind of key,
 * never the value. A pattern check: a key split in two or encoded gets past it; it is there so no
 * operator hands an agent a key by pasting it into a registration.
 */
export function literalSecretProblems(config: unknown): string[] {
  return stringsIn(config, 'config').flatMap(([where, value]) => {
    const kind = literalSecretKind(value);
    return kind
      ? [
          `${where}: holds what looks like ${kind}; an agent is never given a key: the worker holds it, named by gateway.upstreams[].apiKeyEnv, and the agent gets {token}`,
        ]
      : [];
  });
}
