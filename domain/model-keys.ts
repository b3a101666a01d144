/**
 * Which of a worker's environment variables hold model keys, and the hosts each may be sent to
 * (ARBITER_MODEL_KEYS). An agent's registration names both an upstream's URL and the variable its
 * key is read from; with no rule binding the two, a registration could name any variable of the
 * worker (a cloud credential, another service's token, another team's model key) and have the
 * gateway send it to a host it chose. The host's operator, not the registry, decides.
 */
import { PRESET_DEFINITIONS } from './agent-preset-defs';
import { plainUpstreamUrl, portOf } from './upstream-url';

/**
 * One variable allowed to one host (any port unless one is named), over https only unless the
 * rule says `http://` (a key in plain text is anyone's on the path) or the host is this machine.
 */
export interface ModelKeyRule {
  name: string;
  host: string;
  port?: string;
  plainHttp?: true;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST = /^(http:\/\/)?([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/;
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/** Each preset's key variable to its vendor's API host: what a worker allows when ARBITER_MODEL_KEYS is unset. */
export const DEFAULT_MODEL_KEYS: readonly ModelKeyRule[] = Object.values(PRESET_DEFINITIONS)
  .map((d) => ({ name: d.upstream.apiKeyEnv, host: new URL(d.upstream.baseUrl).hostname }))
  .filter((r, i, all) => all.findIndex((o) => o.name === r.name && o.host === r.host) === i);

/**
 * `NAME@host[:port],…` (e.g. `OPENAI_API_KEY@api.openai.com,TEAM_KEY@llm.internal:8443`); the
 * problems of each malformed entry, or the rules.
 */
export function parseModelKeys(text: string): { rules: ModelKeyRule[] } | { problems: string[] } {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const rules: ModelKeyRule[] = [];
  const problems: string[] = [];
  for (const entry of entries) {
    const [name, host, ...extra] = entry.split('@');
    const m = host !== undefined && extra.length === 0 ? HOST.exec(host.toLowerCase()) : null;
    if (NAME.test(name) && m)
      rules.push({ name, host: m[2], ...(m[3] ? { port: m[3] } : {}), ...(m[1] ? { plainHttp: true as const } : {}) });
    else problems.push(`'${entry}' is not VARIABLE@host, VARIABLE@host:port or VARIABLE@http://host[:port]`);
  }
  return problems.length ? { problems } : { rules };
}

/** A rule as ARBITER_MODEL_KEYS spells it, for the worker's start-up log and `doctor` (never a value). */
export function formatModelKeyRule(r: ModelKeyRule): string {
  return `${r.name}@${r.plainHttp ? 'http://' : ''}${r.host}${r.port ? `:${r.port}` : ''}`;
}

/**
 * Why a worker with `rules` will not send the key of `upstream` (the value of its `apiKeyEnv`) to
 * its `baseUrl`; undefined when it may, or when the upstream takes no key. A caller that passes no
 * rules gets {@link DEFAULT_MODEL_KEYS}, as a worker with ARBITER_MODEL_KEYS unset does: an
 * embedding that forgets them must not send any variable anywhere.
 */
export function keyDestinationRefusal(
  given: readonly ModelKeyRule[] | undefined,
  upstream: { apiKeyEnv?: string; baseUrl: string },
): string | undefined {
  const name = upstream.apiKeyEnv;
  if (!name) return undefined;
  const rules = given ?? DEFAULT_MODEL_KEYS;
  const url = new URL(upstream.baseUrl);
  if (!plainUpstreamUrl(upstream.baseUrl))
    return `${name} is sent only to a plain http(s) URL, without a query, fragment or credentials, not ${url.protocol}//${url.host}`;
  const port = portOf(url);
  const host = url.hostname.toLowerCase();
  const tls = url.protocol === 'https:' || LOOPBACK.test(host);
  const allows = (r: ModelKeyRule) =>
    r.name === name && r.host === host && (r.port === undefined || r.port === port) && (tls || r.plainHttp === true);
  if (rules.some(allows)) return undefined;
  const listed = rules.filter((r) => r.name === name).map((r) => formatModelKeyRule(r).slice(name.length + 1));
  const where = listed.length ? `only to ${listed.join(', ')}` : 'to no host';
  return `this worker sends ${name} ${where}, not to ${url.protocol}//${url.host} (ARBITER_MODEL_KEYS${tls ? '' : '; https only unless a rule says http://'})`;
}
