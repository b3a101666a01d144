/**
 * The placeholders a command agent's `env` and `homeFiles` may use, filled in per run: the
 * config is registered once, while the gateway's address inside the sandbox, the run's token
 * and the private HOME are only known when the run starts. One expander, so the worker and
 * the tests agree on what `{gateway:anthropic}` means.
 */

/** What the placeholders stand for in one run. */
export interface PlaceholderValues {
  /** The base URL of upstream `name` inside the sandbox, no trailing slash (undefined: not declared). */
  gateway: (name: string) => string | undefined;
  /** The run's gateway token. */
  token: string;
  /** The private HOME directory inside the sandbox. */
  home: string;
}

const PLACEHOLDER = /\{(gateway:[^}]*|token|home)\}/g;

/** `text` with every placeholder replaced; an undeclared upstream is an error, never left as is. */
export function expandPlaceholders(text: string, values: PlaceholderValues): string {
  return text.replace(PLACEHOLDER, (_match, name: string) => {
    if (name === 'token') return values.token;
    if (name === 'home') return values.home;
    const upstream = name.slice('gateway:'.length);
    const url = values.gateway(upstream);
    if (url === undefined) throw new Error(`{gateway:${upstream}} names no upstream of this agent's gateway`);
    return url.replace(/\/+$/, '');
  });
}

/** Every value of `record` expanded (for `env` and `homeFiles`). */
export function expandRecord(record: Record<string, string>, values: PlaceholderValues): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, expandPlaceholders(v, values)]));
}

/** The upstream names `text` refers to, to check a config before any run. */
export function gatewayReferences(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)]
    .map((m) => m[1])
    .filter((n) => n.startsWith('gateway:'))
    .map((n) => n.slice('gateway:'.length));
}
