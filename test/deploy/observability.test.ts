// Checks the monitoring half of docker-compose.yml without a Docker engine: Prometheus's
// scrape targets and rule files, the alert rules, Grafana's provisioning and the dashboard, each
// cross-checked against the compose services that serve or mount them. A wrong name anywhere
// here fails nowhere at run time (Prometheus answers an empty result, Grafana a blank panel), so
// this is where it has to fail.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { projectRoot } from '../../client/paths';
import { resolveSeries, type MetricSource, type MetricType } from './known-metrics';

type EnvValue = string | number | boolean | null;
interface LongVolume {
  type?: string;
  source?: string;
  target: string;
  read_only?: boolean;
}
interface Service {
  image?: string;
  command?: string | string[];
  environment?: Record<string, EnvValue> | string[];
  ports?: Array<string | number | { target: number | string; published?: number | string; host_ip?: string }>;
  volumes?: Array<string | LongVolume>;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  scheme?: string;
  static_configs?: Array<{ targets?: string[] }>;
  dns_sd_configs?: Array<{ names?: string[]; type?: string; port?: number }>;
}
interface PrometheusConfig {
  global?: { scrape_interval?: string; evaluation_interval?: string };
  rule_files?: string[];
  scrape_configs?: ScrapeConfig[];
}
interface Rule {
  alert?: string;
  record?: string;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
interface RuleFile {
  groups?: Array<{ name?: string; rules?: Rule[] }>;
}
interface Datasource {
  name?: string;
  type?: string;
  uid?: string;
  url?: string;
  access?: string;
}
interface DashboardProvider {
  name?: string;
  type?: string;
  options?: { path?: string };
}
interface PanelDatasource {
  type?: string;
  uid?: string;
}
interface Panel {
  id?: unknown;
  type?: string;
  title?: string;
  datasource?: PanelDatasource | string | null;
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: Array<{ refId?: string; expr?: unknown; datasource?: PanelDatasource | string | null }>;
  panels?: Panel[];
}
interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
}

/** The repository, from the compiled test's position, else (for another outDir) the cwd. */
function repoRoot(): string {
  try {
    return projectRoot(__dirname);
  } catch {
    return projectRoot(process.cwd());
  }
}

const ROOT = repoRoot();
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');
// Resolve packages from the repo, so the compiled test also runs from another outDir.
const { parse } = createRequire(path.join(ROOT, 'package.json'))('yaml') as typeof import('yaml');

const PROMETHEUS_SERVICE = 'prometheus';
const GRAFANA_SERVICE = 'grafana';

/**
 * The environment variable holding the address each scraped service serves /metrics on; a scrape
 * target on any other service has nothing to check it against.
 */
const METRICS_ADDRESS_ENV: Record<string, string> = {
  'arbiter-worker': 'ARBITER_METRICS_ADDRESS',
  temporal: 'PROMETHEUS_ENDPOINT',
};

/** Alerts the issue names, each with the metric it must be about. */
const REQUIRED_ALERTS: Record<string, string> = {
  TemporalWorkflowTaskScheduleToStartHigh: 'temporal_workflow_task_schedule_to_start_latency_seconds',
  TemporalActivityScheduleToStartHigh: 'temporal_activity_schedule_to_start_latency_seconds',
  TemporalSyncMatchRateLow: 'poll_success_sync',
  TemporalPollSuccessRateLow: 'poll_timeouts',
  TemporalWorkflowTaskBacklogGrowing: 'approximate_backlog_count',
  TemporalWorkflowTaskFailing: 'temporal_workflow_task_execution_failed_total',
  TemporalWorkerSlotsExhausted: 'temporal_worker_task_slots_available',
  ArbiterWaiversExpiringSoon: 'arbiter_waivers_expiring_soon',
  ArbiterVerdictFailuresHigh: 'arbiter_verdicts_total',
  ArbiterSandboxUnavailable: 'arbiter_sandbox_available',
  ArbiterSandboxRefusalsSpike: 'arbiter_sandbox_refusals_total',
  ArbiterTaskFailuresHigh: 'arbiter_tasks_ended_total',
};

/** Panels the issue names, by title, each with the metrics its queries must use. */
const REQUIRED_PANELS: Record<string, string[]> = {
  'Task throughput by outcome': ['arbiter_tasks_ended_total'],
  'Task latency (p50, p95)': ['arbiter_task_duration_seconds'],
  'Workflow task schedule-to-start latency p99': ['temporal_workflow_task_schedule_to_start_latency_seconds'],
  'Activity schedule-to-start latency p99': ['temporal_activity_schedule_to_start_latency_seconds'],
  'Worker slots available': ['temporal_worker_task_slots_available'],
  'Gate outcomes': ['arbiter_gate_results_total'],
  'Verdict outcomes': ['arbiter_verdicts_total'],
  'Cost by agent': ['arbiter_task_cost_usd'],
  'Tokens by agent': ['arbiter_task_tokens'],
  'Waivers requested and decided': ['arbiter_waivers_requested_total', 'arbiter_waivers_decided_total'],
  'Sandbox refusals': ['arbiter_sandbox_refusals_total'],
  'Workflow history size at task end (p95)': ['arbiter_workflow_history_size_bytes'],
  'Routing decisions by agent': ['arbiter_routing_decisions_total'],
  'Tasks entering each state': ['arbiter_task_state_entered_total'],
};

const SEVERITIES = new Set(['warning', 'critical']);

function envOf(svc: Service): Record<string, string> {
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.filter((e) => e.includes('=')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
  }
  return Object.fromEntries(
    Object.entries(env)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, String(v)]),
  );
}

interface Mount {
  source?: string;
  target: string;
  readOnly: boolean;
  /** A host path (bind mount) rather than a named volume. */
  bind: boolean;
}
function mountsOf(svc: Service): Mount[] {
  return (svc.volumes ?? []).map((v) => {
    if (typeof v === 'object') {
      const bind = v.type === 'bind' || /^[./~]/.test(v.source ?? '');
      return { source: v.source, target: v.target, readOnly: v.read_only === true, bind };
    }
    const [source, target, mode] = v.split(':');
    if (target === undefined) return { target: source, readOnly: false, bind: false };
    return { source, target, readOnly: (mode ?? '').split(',').includes('ro'), bind: /^[./~]/.test(source) };
  });
}

/** The repository file a container path of `svc` shows, through its bind mounts (deepest wins). */
function hostPathOf(svc: Service, containerPath: string): string | undefined {
  const mount = mountsOf(svc)
    .filter((m) => m.bind && (containerPath === m.target || containerPath.startsWith(`${m.target}/`)))
    .sort((a, b) => b.target.length - a.target.length)[0];
  if (!mount?.source) return undefined;
  return path.join(ROOT, mount.source, path.posix.relative(mount.target, containerPath));
}

const rel = (p: string): string => path.relative(ROOT, p);

/** "host:port" (or ":port") to its parts. */
function splitAddress(address: string): { host: string; port: string } {
  const m = /^([^:]*):(\d+)$/.exec(address);
  assert.ok(m, `"${address}" is host:port`);
  return { host: m[1], port: m[2] };
}

/** Container port of each published mapping. */
function containerPorts(svc: Service): string[] {
  return (svc.ports ?? []).map((p) => (typeof p === 'object' ? String(p.target) : String(p).split(':').at(-1)!));
}

function commandFlag(svc: Service, flag: string): string | undefined {
  const args = svc.command === undefined ? [] : Array.isArray(svc.command) ? svc.command : svc.command.split(/\s+/);
  const found = args.find((a) => a.startsWith(`${flag}=`));
  return found?.slice(flag.length + 1);
}

// ---------------------------------------------------------------------------------------------
// PromQL: enough of a lexer to find every series name an expression selects, so each can be
// checked against known-metrics.ts, and to refuse unbalanced brackets and quotes.

const AGGREGATIONS = new Set(
  'sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio'.split(' '),
);
const FUNCTIONS = new Set([
  ...AGGREGATIONS,
  ...'abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week day_of_year days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar histogram_sum double_exponential_smoothing hour idelta increase irate label_join label_replace ln log2 log10 minute month predict_linear rate resets round scalar sgn sort sort_desc sort_by_label sort_by_label_desc sqrt time timestamp vector year avg_over_time min_over_time max_over_time sum_over_time count_over_time quantile_over_time stddev_over_time stdvar_over_time last_over_time present_over_time mad_over_time acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh deg pi rad'.split(
    ' ',
  ),
]);
/** Followed by a parenthesised label list, not an expression. */
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);
/** Functions over a range of a counter; over a gauge they give nonsense, not an error. */
const COUNTER_FUNCTIONS = new Set(['rate', 'irate', 'increase', 'resets']);
const DURATION = String.raw`(?:\d+(?:ms|s|m|h|d|w|y))+`;
const GRAFANA_VAR = String.raw`\$(?:__)?\w+|\$\{\w+\}`;
const RANGE_RE = new RegExp(`^\\s*(?:${DURATION}|${GRAFANA_VAR})\\s*(?::\\s*(?:${DURATION}|${GRAFANA_VAR})?\\s*)?$`);

interface SeriesRef {
  name: string;
  /** The function whose argument list the name sits directly in, if any. */
  fn?: string;
  /** The text of its `{...}` label matchers, if it has any. */
  matchers?: string;
}

/** Problems with `expr` (empty when it is sound) and the series it selects. */
function lintPromQL(expr: string): { problems: string[]; series: SeriesRef[] } {
  const problems: string[] = [];
  const series: SeriesRef[] = [];
  const stack: Array<{ open: string; fn?: string }> = [];
  const closing: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  let pendingFn: string | undefined;
  let i = 0;
  const nextNonSpace = (from: number): string => expr.slice(from).trimStart()[0] ?? '';

  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      if (j >= expr.length) {
        problems.push(`unterminated ${c} quote at offset ${i}`);
        break;
      }
      i = j + 1;
    } else if (c === '{') {
      // A label matcher list: names and quoted values, none of them series.
      const selector = /[A-Za-z0-9_:]\s*$/.test(expr.slice(0, i)) ? series.at(-1) : undefined;
      const start = i + 1;
      stack.push({ open: c });
      i++;
      while (i < expr.length && expr[i] !== '}') {
        const q = expr[i];
        if (q === '"' || q === "'" || q === '`') {
          let j = i + 1;
          while (j < expr.length && expr[j] !== q) j += expr[j] === '\\' && q !== '`' ? 2 : 1;
          if (j >= expr.length) {
            problems.push(`unterminated ${q} quote at offset ${i}`);
            return { problems, series };
          }
          i = j + 1;
        } else if ('{[()]'.includes(q)) {
          problems.push(`"${q}" inside a label matcher at offset ${i}`);
          i++;
        } else {
          i++;
        }
      }
      if (selector) selector.matchers = expr.slice(start, i);
    } else if (c === '[') {
      const end = expr.indexOf(']', i);
      if (end < 0) {
        problems.push(`unclosed [ at offset ${i}`);
        break;
      }
      const range = expr.slice(i + 1, end);
      if (!RANGE_RE.test(range)) problems.push(`"[${range}]" is not a range or subquery duration`);
      i = end + 1;
    } else if (c === '(') {
      stack.push({ open: c, fn: pendingFn });
      pendingFn = undefined;
      i++;
    } else if (c === ')' || c === '}' || c === ']') {
      const top = stack.pop();
      if (top?.open !== closing[c]) problems.push(`"${c}" at offset ${i} closes ${top ? `"${top.open}"` : 'nothing'}`);
      i++;
    } else if (/[A-Za-z_:]/.test(c)) {
      const word = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(i))![0];
      i += word.length;
      const next = nextNonSpace(i);
      const lower = word.toLowerCase();
      if (GROUPING.has(lower)) {
        if (next === '(') {
          const open = expr.indexOf('(', i);
          const close = expr.indexOf(')', open);
          if (close < 0) {
            problems.push(`unclosed label list after ${word}`);
            break;
          }
          const labels = expr.slice(open + 1, close).trim();
          if (labels && !/^[A-Za-z_]\w*(\s*,\s*[A-Za-z_]\w*)*\s*,?$/.test(labels)) {
            problems.push(`"${word} (${labels})" is not a label list`);
          }
          i = close + 1;
        }
      } else if (KEYWORDS.has(lower)) {
        // Binary operators and modifiers.
      } else if (next === '(') {
        if (!FUNCTIONS.has(word)) problems.push(`unknown function ${word}()`);
        pendingFn = word;
      } else if (AGGREGATIONS.has(word) && /^(by|without)\b/.test(expr.slice(i).trimStart())) {
        pendingFn = word;
      } else {
        const top = stack.at(-1);
        series.push({ name: word, fn: top?.open === '(' ? top.fn : undefined });
      }
    } else if (/[0-9.]/.test(c)) {
      i += /^(0x[0-9a-f]+|\d*\.?\d+(e[+-]?\d+)?)[a-z]*/i.exec(expr.slice(i))?.[0].length || 1;
    } else if (c === '$') {
      i += /^\$(\{\w+\}|\w+)/.exec(expr.slice(i))?.[0].length || 1;
    } else if ('+-*/%^=!<>,@'.includes(c)) {
      i++;
    } else {
      problems.push(`unexpected "${c}" at offset ${i}`);
      i++;
    }
  }
  for (const open of stack) problems.push(`unclosed "${open.open}"`);
  if (series.length === 0 && problems.length === 0 && !/\bvector\s*\(|\btime\s*\(/.test(expr)) {
    problems.push('selects no series');
  }
  return { problems, series };
}

/**
 * The scrape job each source's series must be selected from. The Temporal server's own internal
 * workers export SDK metrics under the very names Arbiter's worker does, so an SDK series not
 * pinned to the worker's job mixes the server's system task queues into Arbiter's.
 */
const JOB_OF_SOURCE: Partial<Record<MetricSource, string>> = { sdk: 'arbiter-worker', server: 'temporal' };

/** Problems with `expr` including names known-metrics.ts does not list and misused types. */
function checkExpr(expr: unknown): { problems: string[]; names: Set<string> } {
  if (typeof expr !== 'string' || !expr.trim()) return { problems: ['expr is missing or empty'], names: new Set() };
  const { problems, series } = lintPromQL(expr);
  const names = new Set<string>();
  for (const ref of series) {
    const found = resolveSeries(ref.name);
    if (!found) {
      problems.push(`unknown metric ${ref.name} (not in test/deploy/known-metrics.ts: misspelt, or a wrong suffix?)`);
      continue;
    }
    names.add(found.metric.name);
    const type: MetricType = found.metric.type;
    if (type === 'histogram' && !found.suffix) {
      problems.push(`${ref.name} is a histogram: select its _bucket, _sum or _count series`);
    }
    if (ref.fn && COUNTER_FUNCTIONS.has(ref.fn) && type === 'gauge') {
      problems.push(`${ref.fn}() over gauge ${ref.name}`);
    }
    const job = JOB_OF_SOURCE[found.metric.source];
    if (job && !new RegExp(`(^|,)\\s*job\\s*=\\s*"${job}"`).test(ref.matchers ?? '')) {
      problems.push(`${ref.name} is not selected with {job="${job}"}`);
    }
    if (found.suffix === '_bucket' && !/histogram_quantile|histogram_fraction/.test(expr)) {
      problems.push(`${ref.name} selected without histogram_quantile()`);
    }
  }
  return { problems, names };
}

/** Panels including those nested in collapsed rows. */
function allPanels(panels: Panel[] | undefined): Panel[] {
  return (panels ?? []).flatMap((p) => [p, ...allPanels(p.panels)]);
}

// Prometheus's own duration syntax (model.ParseDuration), units in descending order.
const PROM_DURATION = /^(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;

describe('deploy: observability (Prometheus, alert rules, Grafana)', () => {
  let compose: Compose;
  let prometheus: Service;
  let grafana: Service;
  let promConfigPath: string;
  let promConfig: PrometheusConfig;
  let rules: Rule[];
  let datasources: Datasource[];
  let providers: DashboardProvider[];
  let dashboards: Array<{ file: string; dashboard: Dashboard }>;

  before(() => {
    compose = parse(read('docker-compose.yml')) as Compose;
    prometheus = compose.services[PROMETHEUS_SERVICE];
    grafana = compose.services[GRAFANA_SERVICE];
    assert.ok(prometheus, `docker-compose.yml has a ${PROMETHEUS_SERVICE} service`);
    assert.ok(grafana, `docker-compose.yml has a ${GRAFANA_SERVICE} service`);

    const configFlag = commandFlag(prometheus, '--config.file') ?? '/etc/prometheus/prometheus.yml';
    const configHost = hostPathOf(prometheus, configFlag);
    assert.ok(configHost, `prometheus's --config.file ${configFlag} is not bind-mounted from the repository`);
    promConfigPath = configHost;
    assert.ok(
      fs.existsSync(promConfigPath),
      `prometheus's config ${configFlag} is mounted from missing ${rel(configHost)}`,
    );
    promConfig = parse(fs.readFileSync(promConfigPath, 'utf8')) as PrometheusConfig;
    assert.ok(promConfig && typeof promConfig === 'object', `${rel(promConfigPath)} is a YAML mapping`);

    rules = [];
    for (const file of promConfig.rule_files ?? []) {
      const host = hostPathOf(prometheus, file);
      assert.ok(host && fs.existsSync(host), `rule file ${file} is not mounted from a repository file`);
      const doc = parse(fs.readFileSync(host, 'utf8')) as RuleFile;
      assert.ok(Array.isArray(doc?.groups) && doc.groups.length > 0, `${rel(host)} has rule groups`);
      for (const g of doc.groups) {
        assert.ok(g.name, `${rel(host)}: every group has a name`);
        assert.ok(Array.isArray(g.rules) && g.rules.length > 0, `${rel(host)}: group ${g.name} has rules`);
        rules.push(...g.rules);
      }
    }

    const provisioning = hostPathOf(grafana, '/etc/grafana/provisioning');
    assert.ok(provisioning && fs.statSync(provisioning).isDirectory(), 'grafana mounts a provisioning folder');
    const yamlsIn = (dir: string): unknown[] =>
      fs
        .readdirSync(path.join(provisioning, dir))
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => parse(fs.readFileSync(path.join(provisioning, dir, f), 'utf8')));
    datasources = yamlsIn('datasources').flatMap((d) => (d as { datasources?: Datasource[] }).datasources ?? []);
    providers = yamlsIn('dashboards').flatMap((d) => (d as { providers?: DashboardProvider[] }).providers ?? []);

    dashboards = providers.flatMap((p) => {
      const dir = p.options?.path ? hostPathOf(grafana, p.options.path) : undefined;
      if (!dir || !fs.existsSync(dir)) return [];
      return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => {
          const file = path.join(dir, f);
          let dashboard: Dashboard;
          try {
            dashboard = JSON.parse(fs.readFileSync(file, 'utf8')) as Dashboard;
          } catch (err) {
            throw new Error(`${rel(file)} is not valid JSON: ${(err as Error).message}`);
          }
          return { file: rel(file), dashboard };
        });
    });
  });

  it('pins both images and publishes their UIs on this host only', () => {
    assert.match(prometheus.image ?? '', /^prom\/prometheus:v\d+\.\d+\.\d+$/, 'prometheus image pinned');
    assert.match(grafana.image ?? '', /^grafana\/grafana:\d+\.\d+\.\d+$/, 'grafana image pinned');
    assert.ok(
      (prometheus.ports ?? []).includes('127.0.0.1:9090:9090'),
      `prometheus ports ${JSON.stringify(prometheus.ports)}`,
    );
    assert.ok((grafana.ports ?? []).includes('127.0.0.1:3000:3000'), `grafana ports ${JSON.stringify(grafana.ports)}`);
  });

  it('mounts only repository files that exist, read-only, and declares its named volumes', () => {
    for (const [name, svc] of [
      [PROMETHEUS_SERVICE, prometheus],
      [GRAFANA_SERVICE, grafana],
    ] as const) {
      for (const m of mountsOf(svc)) {
        if (m.bind) {
          assert.ok(fs.existsSync(path.join(ROOT, m.source!)), `${name} mounts missing ${m.source} at ${m.target}`);
          assert.ok(m.readOnly, `${name} mounts ${m.source} writable: configuration must be read-only`);
        } else {
          assert.ok(
            m.source && compose.volumes && m.source in compose.volumes,
            `${name}: volume ${m.source} is declared`,
          );
        }
      }
    }
  });

  it('prometheus.yml scrapes every 15s and loads alerts.yml through the mount', () => {
    assert.equal(promConfig.global?.scrape_interval, '15s', 'global scrape_interval');
    assert.equal(promConfig.global?.evaluation_interval ?? '1m', '15s', 'global evaluation_interval');
    const ruleHosts = (promConfig.rule_files ?? []).map((f) => hostPathOf(prometheus, f));
    assert.ok(
      ruleHosts.includes(path.join(ROOT, 'ops/prometheus/alerts.yml')),
      `rule_files ${JSON.stringify(promConfig.rule_files)} resolve to ${JSON.stringify(ruleHosts.map((h) => h && rel(h)))}, not ops/prometheus/alerts.yml`,
    );
    assert.equal(rel(promConfigPath), path.join('ops', 'prometheus', 'prometheus.yml'));
  });

  it('scrapes the worker and the Temporal server on the addresses they serve metrics on', () => {
    const jobs = promConfig.scrape_configs ?? [];
    assert.deepEqual(
      jobs.map((j) => j.job_name),
      ['arbiter-worker', 'temporal'],
      'scrape jobs',
    );
    for (const job of jobs) {
      assert.equal(job.metrics_path ?? '/metrics', '/metrics', `${job.job_name}: metrics_path`);
      assert.equal(job.scheme ?? 'http', 'http', `${job.job_name}: scheme`);
      const targets = [
        ...(job.static_configs ?? []).flatMap((s) => s.targets ?? []).map((t) => splitAddress(t)),
        ...(job.dns_sd_configs ?? []).flatMap((d) => {
          assert.equal(d.type, 'A', `${job.job_name}: DNS discovery of a compose service uses A records`);
          return (d.names ?? []).map((host) => ({ host, port: String(d.port) }));
        }),
      ];
      assert.ok(targets.length > 0, `${job.job_name} has targets`);
      for (const { host, port } of targets) {
        const svc = compose.services[host];
        assert.ok(svc, `${job.job_name} scrapes ${host}, which is not a compose service`);
        const envName = METRICS_ADDRESS_ENV[host];
        assert.ok(envName, `${job.job_name} scrapes ${host}, which has no known metrics address variable`);
        const address = envOf(svc)[envName];
        assert.ok(address, `${host} does not set ${envName}, so it serves no metrics for ${job.job_name}`);
        const listen = splitAddress(address);
        assert.equal(
          listen.host,
          '0.0.0.0',
          `${host} ${envName}=${address} must listen on all interfaces for Prometheus`,
        );
        assert.equal(port, listen.port, `${job.job_name} scrapes ${host}:${port} but ${host} serves on ${address}`);
      }
    }
  });

  it('every alert rule has its severity, a valid for, summary, description and README runbook', () => {
    const readme = read('README.md');
    assert.ok(rules.length > 0, 'there are alert rules');
    const names = rules.map((r) => r.alert ?? r.record);
    const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
    assert.deepEqual(duplicates, [], 'alert names are unique (each has one runbook section)');
    const problems: string[] = [];
    for (const r of rules) {
      const name = r.alert;
      if (!name) {
        problems.push(`a rule without alert: ${JSON.stringify(r)}`);
        continue;
      }
      if (!/^[A-Z][A-Za-z0-9]+$/.test(name)) problems.push(`${name}: name must be CamelCase letters and digits`);
      if (typeof r.for !== 'string' || !PROM_DURATION.test(r.for))
        problems.push(`${name}: for ${JSON.stringify(r.for)} is not a duration`);
      const severity = r.labels?.severity;
      if (typeof severity !== 'string' || !SEVERITIES.has(severity))
        problems.push(`${name}: severity ${JSON.stringify(severity)} is not warning or critical`);
      for (const key of ['summary', 'description']) {
        const text = r.annotations?.[key];
        if (typeof text !== 'string' || !text.trim()) problems.push(`${name}: annotations.${key} is missing`);
      }
      const runbook = `README.md#alert-${name.toLowerCase()}`;
      if (r.annotations?.runbook !== runbook)
        problems.push(`${name}: annotations.runbook is ${JSON.stringify(r.annotations?.runbook)}, not ${runbook}`);
      if (!readme.includes(`<a id="alert-${name.toLowerCase()}"></a>`))
        problems.push(`${name}: README.md has no runbook section (anchor alert-${name.toLowerCase()})`);
      for (const [key, text] of Object.entries(r.annotations ?? {})) {
        if (typeof text === 'string' && text.split('{{').length !== text.split('}}').length) {
          problems.push(`${name}: annotations.${key} has unbalanced {{ }}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('every alert expression is well-formed and names only metrics that are really exported', () => {
    const problems = rules.flatMap((r) => checkExpr(r.expr).problems.map((p) => `${r.alert ?? r.record}: ${p}`));
    assert.deepEqual(problems, []);
  });

  it("has the alerts the issue names, each about its metric (Temporal's guidance and Arbiter's own)", () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    const problems = Object.entries(REQUIRED_ALERTS).flatMap(([alert, metric]) => {
      const rule = byName.get(alert);
      if (!rule) return [`missing alert ${alert}`];
      return checkExpr(rule.expr).names.has(metric) ? [] : [`${alert} does not use ${metric}`];
    });
    assert.deepEqual(problems, []);
  });

  it('the Grafana data source is the prometheus service', () => {
    assert.equal(datasources.length, 1, `one provisioned data source: ${JSON.stringify(datasources)}`);
    const [ds] = datasources;
    assert.equal(ds.type, 'prometheus');
    assert.ok(ds.uid, 'the data source has a fixed uid for the dashboard to name');
    assert.equal(ds.access ?? 'proxy', 'proxy', 'Grafana, not the browser, reaches Prometheus');
    const url = new URL(ds.url ?? '');
    assert.equal(url.hostname, PROMETHEUS_SERVICE, `data source url ${ds.url}`);
    const listen = splitAddress(commandFlag(prometheus, '--web.listen-address') ?? '0.0.0.0:9090');
    assert.equal(url.port || '80', listen.port, `data source url ${ds.url} vs prometheus listening on ${listen.port}`);
    assert.ok(containerPorts(prometheus).includes(listen.port), 'the published port is the one prometheus listens on');
  });

  it('the dashboard provider reads the folder compose mounts the dashboards into', () => {
    assert.equal(providers.length, 1, `one dashboard provider: ${JSON.stringify(providers)}`);
    const [p] = providers;
    assert.equal(p.type, 'file');
    const dir = p.options?.path;
    assert.ok(dir && dir.startsWith('/'), `provider path ${dir} is absolute`);
    const host = hostPathOf(grafana, dir);
    assert.ok(host, `grafana mounts nothing from the repository at the provider path ${dir}`);
    assert.equal(rel(host), path.join('ops', 'grafana', 'dashboards'));
    assert.ok(fs.existsSync(path.join(host, 'arbiter.json')), `${rel(host)}/arbiter.json exists`);
    assert.deepEqual(
      dashboards.map((d) => d.file),
      [path.join('ops', 'grafana', 'dashboards', 'arbiter.json')],
    );
    const home = envOf(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home) {
      const homeHost = hostPathOf(grafana, home);
      assert.ok(homeHost && fs.existsSync(homeHost), `home dashboard ${home} is a mounted file`);
    }
  });

  it('the dashboard has a uid, unique panel ids, the provisioned data source and sound queries', () => {
    const uid = datasources[0].uid;
    for (const { file, dashboard } of dashboards) {
      assert.equal(dashboard.uid, 'arbiter', `${file}: uid`);
      assert.ok(dashboard.title, `${file}: title`);
      assert.ok(
        (dashboard.schemaVersion ?? 0) >= 36,
        `${file}: schemaVersion ${dashboard.schemaVersion} (data source by uid needs 36+)`,
      );
      const panels = allPanels(dashboard.panels);
      assert.ok(panels.length > 0, `${file} has panels`);
      const ids = panels.map((p) => p.id);
      assert.ok(
        ids.every((id) => Number.isInteger(id)),
        `${file}: every panel has an integer id`,
      );
      assert.deepEqual(
        ids.filter((id, i) => ids.indexOf(id) !== i),
        [],
        `${file}: duplicate panel ids`,
      );
      const problems: string[] = [];
      for (const p of panels) {
        const where = `${file} panel ${p.id} "${p.title}"`;
        if (!p.title) problems.push(`${where}: no title`);
        const pos = p.gridPos;
        if (!pos || pos.x < 0 || pos.w < 1 || pos.x + pos.w > 24 || pos.h < 1)
          problems.push(`${where}: gridPos ${JSON.stringify(pos)} is off the 24-column grid`);
        if (p.type === 'row') continue;
        const ds = p.datasource;
        if (typeof ds !== 'object' || ds === null || ds.uid !== uid || ds.type !== 'prometheus') {
          problems.push(
            `${where}: datasource ${JSON.stringify(ds)} is not the provisioned {type: prometheus, uid: ${uid}}`,
          );
        }
        if (!p.targets?.length) problems.push(`${where}: no queries`);
        const refIds = (p.targets ?? []).map((t) => t.refId);
        if (new Set(refIds).size !== refIds.length) problems.push(`${where}: duplicate refIds ${refIds.join(',')}`);
        for (const t of p.targets ?? []) {
          if (t.datasource != null && (typeof t.datasource !== 'object' || t.datasource.uid !== uid)) {
            problems.push(`${where} ${t.refId}: datasource ${JSON.stringify(t.datasource)} is not uid ${uid}`);
          }
          problems.push(...checkExpr(t.expr).problems.map((e) => `${where} ${t.refId}: ${e}`));
        }
      }
      assert.deepEqual(problems, []);
    }
  });

  it('the dashboard has the panels the issue names, each querying its metric', () => {
    const panels = dashboards.flatMap((d) => allPanels(d.dashboard.panels));
    const problems = Object.entries(REQUIRED_PANELS).flatMap(([title, metrics]) => {
      const panel = panels.find((p) => p.title === title);
      if (!panel) return [`missing panel "${title}"`];
      const used = new Set((panel.targets ?? []).flatMap((t) => [...checkExpr(t.expr).names]));
      return metrics.filter((m) => !used.has(m)).map((m) => `panel "${title}" does not query ${m}`);
    });
    assert.deepEqual(problems, []);
  });

  it('the expression check itself catches what it is there for', () => {
    const problemsOf = (expr: string): string => checkExpr(expr).problems.join('; ');
    assert.equal(
      problemsOf('sum by (le) (rate(arbiter_task_duration_seconds_bucket[5m]))'),
      'arbiter_task_duration_seconds_bucket selected without histogram_quantile()',
    );
    assert.equal(
      problemsOf('histogram_quantile(0.9, sum by (le) (rate(arbiter_task_duration_seconds_bucket[$__rate_interval])))'),
      '',
    );
    assert.match(problemsOf('rate(arbiter_tasks_ended[5m])'), /unknown metric arbiter_tasks_ended\b/);
    assert.match(
      problemsOf('temporal_num_pollers_total{job="arbiter-worker"}'),
      /unknown metric temporal_num_pollers_total/,
    );
    assert.match(problemsOf('poll_success_total{job="temporal"}'), /unknown metric poll_success_total/);
    assert.match(problemsOf('rate(arbiter_sandbox_available[5m])'), /rate\(\) over gauge/);
    assert.match(problemsOf('sum(rate(arbiter_verdicts_total[5m])'), /unclosed "\("/);
    assert.match(problemsOf('arbiter_verdicts_total{verdict="FAIL}'), /unterminated " quote/);
    assert.match(problemsOf('rate(arbiter_verdicts_total[5 m])'), /not a range/);
    assert.match(problemsOf('rated(arbiter_verdicts_total[5m])'), /unknown function rated/);
    assert.match(problemsOf('arbiter_task_duration_seconds'), /is a histogram/);
    assert.equal(problemsOf('up{job="arbiter-worker"} == 0 or absent(up{job="arbiter-worker"})'), '');
    assert.match(
      problemsOf('temporal_num_pollers'),
      /temporal_num_pollers is not selected with \{job="arbiter-worker"\}/,
    );
    assert.match(
      problemsOf('poll_success{job="arbiter-worker"}'),
      /poll_success is not selected with \{job="temporal"\}/,
    );
    assert.equal(
      problemsOf('max by (poller_type) (temporal_num_pollers{ namespace="default", job="arbiter-worker"})'),
      '',
    );
    assert.equal(problemsOf('sum(increase(arbiter_task_cost_usd_sum[1h] offset 1d))'), '');
  });
});
