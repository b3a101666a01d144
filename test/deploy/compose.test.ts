// Checks docker-compose.yml, Dockerfile and .dockerignore without a Docker engine: the
// wiring between services is cross-checked, and the one-shot jobs' shell scripts are run
// against fake `temporal` / `temporal-sql-tool` executables to see what they would do.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { tempDir } from '../helpers/temp';
import { loadWorkerConfig } from '../../workers/config';
import { SERVER_RUN_LIMITS } from '../../temporal-config';

type EnvValue = string | number | boolean | null;
interface LongPort {
  target: number | string;
  published?: number | string;
  host_ip?: string;
}
interface LongVolume {
  type?: string;
  source?: string;
  target: string;
}
interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, EnvValue> | string[];
  ports?: Array<string | number | LongPort>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown; disable?: boolean };
  volumes?: Array<string | LongVolume>;
  configs?: Array<string | { source: string; target?: string }>;
  restart?: string;
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  configs?: Record<string, { content?: string; file?: string }>;
}

/**
 * The repo root: the nearest directory holding the `arbiter` package.json above this file
 * (lib/test/deploy/ in the normal build) or, for a build to another outDir, above the cwd.
 */
function findRepoRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      const pkg = path.join(dir, 'package.json');
      if (fs.existsSync(pkg)) {
        const { name } = JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string };
        if (name === 'arbiter') return dir;
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`no arbiter package.json above ${__dirname} or ${process.cwd()}`);
}

const ROOT = findRepoRoot();
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');
// Resolve packages from the repo, so the compiled test also runs from another outDir.
const requireFromRoot = createRequire(path.join(ROOT, 'package.json'));
const { parse } = requireFromRoot('yaml') as typeof import('yaml');
const picomatch = requireFromRoot('picomatch') as typeof import('picomatch');

function loadCompose(): Compose {
  const doc = parse(read('docker-compose.yml')) as Compose;
  assert.ok(doc && typeof doc.services === 'object', 'docker-compose.yml has services');
  return doc;
}

function service(compose: Compose, name: string): Service {
  const svc = compose.services[name];
  assert.ok(svc, `service ${name} is defined`);
  return svc;
}

function envOf(svc: Service): Record<string, string> {
  const out: Record<string, string> = {};
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    for (const entry of env) {
      const i = entry.indexOf('=');
      if (i > 0) out[entry.slice(0, i)] = entry.slice(i + 1);
    }
  } else {
    for (const [k, v] of Object.entries(env)) if (v !== null) out[k] = String(v);
  }
  return out;
}

interface PortMapping {
  hostIp?: string;
  published?: string;
  target: string;
}
function portsOf(svc: Service): PortMapping[] {
  return (svc.ports ?? []).map((p) => {
    if (typeof p === 'object') {
      return {
        hostIp: p.host_ip,
        published: p.published === undefined ? undefined : String(p.published),
        target: String(p.target),
      };
    }
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    if (parts.length === 3) return { hostIp: parts[0], published: parts[1], target: parts[2] };
    if (parts.length === 2) return { published: parts[0], target: parts[1] };
    return { target: parts[0] };
  });
}

function dependsOf(svc: Service): Record<string, string> {
  const deps = svc.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v?.condition ?? 'service_started']));
}

function volumeMounts(svc: Service): LongVolume[] {
  return (svc.volumes ?? []).map((v) => {
    if (typeof v === 'object') return v;
    const [source, target] = v.split(':');
    return target === undefined ? { target: source } : { source, target };
  });
}

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** host:port of an address such as "temporal:7233". */
function hostPort(address: string): { host: string; port: string } {
  const m = /^([^:]+):(\d+)$/.exec(address);
  assert.ok(m, `"${address}" is host:port`);
  return { host: m[1], port: m[2] };
}

/** Name of the service running the Temporal server (temporalio/server image). */
function temporalServerName(compose: Compose): string {
  const names = Object.entries(compose.services)
    .filter(([, s]) => s.image?.startsWith('temporalio/server:'))
    .map(([n]) => n);
  assert.deepEqual(names, ['temporal'], 'exactly one Temporal server service, named temporal');
  return names[0];
}

/** The script a one-shot job passes to `/bin/sh -ec`, with Compose's `$$` unescaped. */
function jobScript(svc: Service): string {
  assert.deepEqual(asList(svc.entrypoint), ['/bin/sh', '-ec'], 'job runs its script with sh -ec');
  const cmd = asList(svc.command);
  assert.equal(cmd.length, 1, 'job command is a single script');
  const raw = cmd[0];
  // Compose interpolates a single `$`; every literal one must be written `$$`.
  assert.doesNotMatch(raw.replaceAll('$$', ''), /\$/, 'no unescaped $ in the script');
  return raw.replaceAll('$$', '$');
}

interface ScriptRun {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[][];
  state: string;
}

/** Runs a job script with fake executables first on PATH; each fake logs its argv to $FAKE_LOG. */
function runScript(
  script: string,
  fakes: Record<string, string>,
  env: Record<string, string>,
  prepareState?: (stateDir: string) => void,
): ScriptRun {
  const dir = tempDir('arbiter-compose-');
  try {
    const bin = path.join(dir, 'bin');
    const state = path.join(dir, 'state');
    fs.mkdirSync(bin);
    fs.mkdirSync(state);
    for (const [name, body] of Object.entries(fakes)) {
      fs.writeFileSync(path.join(bin, name), body, { mode: 0o755 });
    }
    prepareState?.(state);
    const log = path.join(dir, 'calls.log');
    const res = spawnSync('/bin/sh', ['-ec', script], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...env, PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, FAKE_LOG: log, FAKE_STATE: state },
    });
    const calls = fs.existsSync(log)
      ? fs
          .readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\x1f').slice(0, -1))
      : [];
    const stateDump = fs.readdirSync(state).sort().join(',');
    return { status: res.status, stdout: res.stdout, stderr: res.stderr, calls, state: stateDump };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const flag = (argv: string[], name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

// `sleep` is stubbed so retry loops finish at once.
const FAKE_SLEEP = '#!/bin/sh\nexit 0\n';

// Enough of the temporal CLI for the search-attribute job. State files in $FAKE_STATE:
// down (server not serving), ns-<name> (namespace exists), sa (registered attributes,
// "Name Type" lines), lag (next search-attribute create fails once: namespace not cached).
const FAKE_TEMPORAL = String.raw`#!/bin/sh
{ for a in "$@"; do printf '%s\037' "$a"; done; printf '\n'; } >> "$FAKE_LOG"
arg() {
  want=$1; shift
  while [ $# -gt 0 ]; do
    if [ "$1" = "$want" ]; then echo "$2"; return 0; fi
    shift
  done
}
case "$1 $2 $3" in
  "operator cluster health")
    if [ -f "$FAKE_STATE/down" ]; then echo "connection refused" >&2; exit 1; fi
    echo SERVING ;;
  "operator namespace describe")
    [ -f "$FAKE_STATE/ns-$(arg --namespace "$@")" ] || { echo "Namespace not found" >&2; exit 1; } ;;
  "operator namespace create")
    touch "$FAKE_STATE/ns-$(arg --namespace "$@")" ;;
  "operator search-attribute list")
    printf '%-20s %s\n' Name Type
    cat "$FAKE_STATE/sa" 2>/dev/null || true ;;
  "operator search-attribute create")
    if [ -f "$FAKE_STATE/lag" ]; then rm "$FAKE_STATE/lag"; echo "Namespace not found" >&2; exit 1; fi
    [ -f "$FAKE_STATE/ns-$(arg --namespace "$@")" ] || { echo "Namespace not found" >&2; exit 1; }
    name=$(arg --name "$@"); type=$(arg --type "$@")
    if grep -qw "$name" "$FAKE_STATE/sa" 2>/dev/null; then echo "Search attribute $name already exists" >&2; exit 1; fi
    printf '%-20s %s\n' "$name" "$type" >> "$FAKE_STATE/sa" ;;
  *) echo "fake temporal: unexpected $*" >&2; exit 2 ;;
esac
`;

// temporal-sql-tool: logs argv plus the SQL_PASSWORD it saw; fails when argv contains $FAIL_ON.
const FAKE_SQL_TOOL = String.raw`#!/bin/sh
{ for a in "$@"; do printf '%s\037' "$a"; done; printf 'SQL_PASSWORD=%s\037\n' "$SQL_PASSWORD"; } >> "$FAKE_LOG"
if [ -n "$FAIL_ON" ]; then
  for a in "$@"; do if [ "$a" = "$FAIL_ON" ]; then echo "fake failure" >&2; exit 1; fi; done
fi
exit 0
`;

const SEARCH_ATTRIBUTES: Array<[string, string]> = [
  ['ArbiterState', 'Keyword'],
  ['TenantId', 'Keyword'],
  ['RiskTier', 'Int'],
  ['AgentId', 'Keyword'],
  ['Verdict', 'Keyword'],
];

describe('deploy: docker-compose.yml', () => {
  let compose: Compose;
  before(() => {
    compose = loadCompose();
  });

  it('defines every service of the stack', () => {
    for (const name of [
      'temporal-postgresql',
      'temporal-schema',
      'temporal',
      'temporal-search-attributes',
      'temporal-ui',
      'arbiter-postgresql',
      'arbiter-worker',
      'prometheus',
      'grafana',
    ]) {
      service(compose, name);
    }
    assert.equal(temporalServerName(compose), 'temporal');
  });

  it("gives the worker time to drain: Docker's stop grace outlasts the worker's own", () => {
    const worker = service(compose, 'arbiter-worker');
    const drain = Number(envOf(worker).ARBITER_SHUTDOWN_GRACE_SECONDS);
    assert.ok(drain > 0, 'the worker drains on stop');
    const grace = /^(\d+)s$/.exec(String(worker.stop_grace_period ?? ''));
    assert.ok(grace && Number(grace[1]) > drain, `stop_grace_period ${worker.stop_grace_period} > ${drain}s`);
  });

  it('versions the worker: its environment, defaults interpolated, parses to a build that makes itself current', () => {
    const env = Object.fromEntries(
      Object.entries(envOf(service(compose, 'arbiter-worker'))).map(([k, v]) => [
        k,
        v.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1'),
      ]),
    );
    // `auto`: a build id from the workflow code, so a rebuilt image with changed code is a new build.
    assert.equal(envOf(service(compose, 'arbiter-worker')).ARBITER_BUILD_ID, '${ARBITER_BUILD_ID:-auto}');
    const config = loadWorkerConfig(env, '/');
    assert.equal(config.deployment?.promote, 'always');
    assert.equal(config.deployment?.behavior, 'pinned');
    assert.equal(config.metricsAddress, '0.0.0.0:9464');
  });

  it('pins every image, and admin-tools matches the server version', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (svc.build !== undefined) continue;
      assert.ok(svc.image, `${name} has an image`);
      const tag = /:([^/:]+)$/.exec(svc.image)?.[1];
      assert.ok(tag && tag !== 'latest', `${name} pins a tag (${svc.image})`);
    }
    const serverVersion = service(compose, 'temporal').image!.split(':')[1];
    for (const job of ['temporal-schema', 'temporal-search-attributes']) {
      assert.equal(service(compose, job).image, `temporalio/admin-tools:${serverVersion}`, job);
    }
    assert.match(service(compose, 'temporal-ui').image!, /^temporalio\/ui:\d+\.\d+\.\d+$/);
    assert.match(service(compose, 'temporal-postgresql').image!, /^postgres:\d+/);
    assert.match(service(compose, 'arbiter-postgresql').image!, /^postgres:(16|17)(\.|-|$)/);
  });

  it('publishes Temporal gRPC on 7233 and the UI on host 8233 -> container 8080', () => {
    const temporal = portsOf(service(compose, 'temporal'));
    assert.ok(
      temporal.some((p) => p.published === '7233' && p.target === '7233'),
      `temporal publishes 7233: ${JSON.stringify(temporal)}`,
    );
    const ui = service(compose, 'temporal-ui');
    const uiPorts = portsOf(ui);
    assert.ok(
      uiPorts.some((p) => p.published === '8233' && p.target === '8080'),
      `temporal-ui publishes 8233->8080: ${JSON.stringify(uiPorts)}`,
    );
    assert.equal(envOf(ui).TEMPORAL_UI_PORT ?? '8080', '8080', 'UI listens on the mapped port');
  });

  it('configures the Temporal server for the temporal-postgresql service', () => {
    const env = envOf(service(compose, 'temporal'));
    const pg = envOf(service(compose, 'temporal-postgresql'));
    assert.equal(env.DB, 'postgres12');
    assert.equal(env.POSTGRES_SEEDS, 'temporal-postgresql');
    assert.equal(env.DB_PORT ?? '5432', '5432');
    assert.equal(env.POSTGRES_USER, pg.POSTGRES_USER);
    assert.equal(env.POSTGRES_PWD, pg.POSTGRES_PASSWORD);
    assert.equal(env.BIND_ON_IP, '0.0.0.0', 'frontend reachable from other containers');
    assert.equal(env.FRONTEND_GRPC_PORT ?? '7233', '7233');
  });

  it('mounts a valid dynamic config file where the server looks for it', () => {
    const temporal = service(compose, 'temporal');
    const wanted = envOf(temporal).DYNAMIC_CONFIG_FILE_PATH;
    assert.ok(wanted?.startsWith('/'), 'DYNAMIC_CONFIG_FILE_PATH is absolute');
    const mount = (temporal.configs ?? []).find(
      (c): c is { source: string; target?: string } => typeof c === 'object' && c.target === wanted,
    );
    assert.ok(mount, `a config is mounted at ${wanted}`);
    const content = compose.configs?.[mount.source]?.content;
    assert.equal(typeof content, 'string', `config ${mount.source} has inline content`);
    assert.doesNotMatch(content!.replaceAll('$$', ''), /\$/, 'no interpolation in config content');
    const dc = parse(content!) as Record<string, unknown>;
    assert.ok(dc && typeof dc === 'object' && !Array.isArray(dc), 'dynamic config is a mapping');
    for (const [key, values] of Object.entries(dc)) {
      assert.ok(Array.isArray(values) && values.length > 0, `${key} is a list of values`);
      for (const v of values as Array<Record<string, unknown>>) assert.ok('value' in v, `${key} entry has a value`);
    }
    for (const [key, value] of Object.entries(SERVER_RUN_LIMITS))
      assert.deepEqual(dc[key], [{ value, constraints: {} }], `${key} is Arbiter's per-run limit`);
  });

  it('wires the worker to Temporal and to the arbiter-postgresql database', () => {
    const worker = service(compose, 'arbiter-worker');
    const env = envOf(worker);

    const temporal = hostPort(env.TEMPORAL_ADDRESS);
    assert.equal(temporal.host, temporalServerName(compose));
    assert.equal(temporal.port, envOf(service(compose, 'temporal')).FRONTEND_GRPC_PORT ?? '7233');
    assert.equal(env.TEMPORAL_NAMESPACE, 'default');
    assert.equal(env.LOG_LEVEL, 'info');

    const url = new URL(env.DATABASE_URL);
    assert.match(url.protocol, /^postgres(ql)?:$/);
    assert.equal(url.hostname, 'arbiter-postgresql');
    assert.equal(url.port || '5432', '5432');
    const pg = envOf(service(compose, url.hostname));
    assert.equal(decodeURIComponent(url.username), pg.POSTGRES_USER);
    assert.equal(decodeURIComponent(url.password), pg.POSTGRES_PASSWORD);
    assert.equal(decodeURIComponent(url.pathname.slice(1)), pg.POSTGRES_DB);
    assert.equal(pg.POSTGRES_DB, 'arbiter');
    assert.equal(pg.POSTGRES_USER, 'arbiter');

    assert.equal(env.ARBITER_HOME, '/var/lib/arbiter');
    const mounts = volumeMounts(worker);
    const home = mounts.find((m) => m.target === env.ARBITER_HOME);
    assert.ok(home?.source && compose.volumes && home.source in compose.volumes, 'ARBITER_HOME is a named volume');
    assert.ok(
      mounts.some((m) => m.source === './repos' && m.target === '/repos'),
      'repos bind mount',
    );
  });

  it('points the UI at the Temporal server', () => {
    const env = envOf(service(compose, 'temporal-ui'));
    const { host, port } = hostPort(env.TEMPORAL_ADDRESS);
    assert.equal(host, temporalServerName(compose));
    assert.equal(port, '7233');
  });

  it('keeps database data in named volumes', () => {
    for (const name of ['temporal-postgresql', 'arbiter-postgresql']) {
      const data = volumeMounts(service(compose, name)).find((m) => m.target === '/var/lib/postgresql/data');
      assert.ok(data?.source && compose.volumes && data.source in compose.volumes, `${name} data volume`);
    }
  });

  it('has a sound depends_on graph', () => {
    const valid = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dep, condition] of Object.entries(dependsOf(svc))) {
        assert.ok(compose.services[dep], `${name} depends on undefined service ${dep}`);
        assert.ok(valid.has(condition), `${name} -> ${dep}: unknown condition ${condition}`);
        const target = compose.services[dep];
        if (condition === 'service_healthy') {
          assert.ok(target.healthcheck?.test && !target.healthcheck.disable, `${dep} has a healthcheck`);
        }
        if (condition === 'service_completed_successfully') {
          assert.ok(!target.restart || target.restart === 'no', `one-shot ${dep} must not restart`);
        }
      }
    }
    // No cycles.
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (n: string): void => {
      if (done.has(n)) return;
      assert.ok(!visiting.has(n), `depends_on cycle through ${n}`);
      visiting.add(n);
      for (const d of Object.keys(dependsOf(compose.services[n]))) visit(d);
      visiting.delete(n);
      done.add(n);
    };
    Object.keys(compose.services).forEach(visit);

    assert.deepEqual(dependsOf(service(compose, 'temporal-schema')), { 'temporal-postgresql': 'service_healthy' });
    assert.equal(dependsOf(service(compose, 'temporal'))['temporal-schema'], 'service_completed_successfully');
    assert.equal(dependsOf(service(compose, 'temporal-search-attributes')).temporal, 'service_healthy');
    const worker = dependsOf(service(compose, 'arbiter-worker'));
    assert.equal(worker['temporal-search-attributes'], 'service_completed_successfully');
    assert.equal(worker['arbiter-postgresql'], 'service_healthy');
  });

  it('checks PostgreSQL health over TCP with pg_isready', () => {
    for (const name of ['temporal-postgresql', 'arbiter-postgresql']) {
      const svc = service(compose, name);
      const test = asList(svc.healthcheck?.test as string | string[] | undefined).join(' ');
      assert.match(test, /pg_isready/, `${name} healthcheck uses pg_isready`);
      assert.match(test, /-h (127\.0\.0\.1|localhost)/, `${name} healthcheck goes over TCP`);
      assert.match(test, new RegExp(`-U ${envOf(svc).POSTGRES_USER}\\b`), `${name} checks as its user`);
    }
  });

  describe('temporal-schema job', () => {
    let script: string;
    let env: Record<string, string>;
    let pg: Record<string, string>;
    let server: Record<string, string>;
    before(() => {
      const job = service(compose, 'temporal-schema');
      script = jobScript(job);
      env = envOf(job);
      pg = envOf(service(compose, 'temporal-postgresql'));
      server = envOf(service(compose, 'temporal'));
    });

    it('creates, versions and upgrades both Temporal databases on temporal-postgresql', () => {
      const run = runScript(script, { 'temporal-sql-tool': FAKE_SQL_TOOL }, env);
      assert.equal(run.status, 0, run.stderr);
      const dir = '/etc/temporal/schema/postgresql/v12';
      const steps = run.calls.map((argv) => {
        assert.equal(flag(argv, '--plugin'), 'postgres12');
        assert.equal(flag(argv, '--ep'), 'temporal-postgresql');
        assert.equal(flag(argv, '-p'), '5432');
        assert.equal(flag(argv, '-u'), pg.POSTGRES_USER);
        assert.equal(argv.at(-1), `SQL_PASSWORD=${pg.POSTGRES_PASSWORD}`);
        const db = flag(argv, '--db');
        const cmd = argv.slice(argv.indexOf('--db') + 2, -1).join(' ');
        return `${db}: ${cmd}`;
      });
      assert.deepEqual(steps, [
        `${server.DBNAME}: create`,
        `${server.DBNAME}: setup-schema -v 0.0`,
        `${server.DBNAME}: update-schema -d ${dir}/temporal/versioned`,
        `${server.VISIBILITY_DBNAME}: create`,
        `${server.VISIBILITY_DBNAME}: setup-schema -v 0.0`,
        `${server.VISIBILITY_DBNAME}: update-schema -d ${dir}/visibility/versioned`,
      ]);
      assert.equal(server.DBNAME, 'temporal');
      assert.equal(server.VISIBILITY_DBNAME, 'temporal_visibility');
    });

    it('fails (so the server never starts) when a schema step fails', () => {
      const run = runScript(script, { 'temporal-sql-tool': FAKE_SQL_TOOL }, { ...env, FAIL_ON: 'update-schema' });
      assert.notEqual(run.status, 0);
      assert.equal(run.calls.length, 3, 'stops at the first failing step');
    });
  });

  describe('temporal-search-attributes job', () => {
    let script: string;
    let worker: Record<string, string>;
    before(() => {
      script = jobScript(service(compose, 'temporal-search-attributes'));
      worker = envOf(service(compose, 'arbiter-worker'));
    });
    const fakes = { temporal: FAKE_TEMPORAL, sleep: FAKE_SLEEP };
    const creates = (run: ScriptRun): string[][] =>
      run.calls.filter((c) => c[0] === 'operator' && c[1] === 'search-attribute' && c[2] === 'create');

    it('creates the namespace and registers all five attributes with their types', () => {
      const run = runScript(script, fakes, {});
      assert.equal(run.status, 0, run.stderr);
      for (const argv of run.calls) {
        assert.equal(flag(argv, '--address'), worker.TEMPORAL_ADDRESS, `address of ${argv.join(' ')}`);
      }
      const nsCreate = run.calls.find((c) => c.slice(0, 3).join(' ') === 'operator namespace create');
      assert.ok(nsCreate, 'namespace created when missing');
      assert.equal(flag(nsCreate, '--namespace'), worker.TEMPORAL_NAMESPACE);
      const registered = creates(run).map((c) => {
        assert.equal(flag(c, '--namespace'), worker.TEMPORAL_NAMESPACE);
        return [flag(c, '--name'), flag(c, '--type')];
      });
      assert.deepEqual(registered, SEARCH_ATTRIBUTES);
    });

    it('waits for the server to be SERVING before touching it', () => {
      const run = runScript(script, fakes, {}, (state) => fs.writeFileSync(path.join(state, 'down'), ''));
      assert.notEqual(run.status, 0);
      assert.ok(run.calls.length > 1, 'health was retried');
      assert.ok(run.calls.every((c) => c.slice(0, 3).join(' ') === 'operator cluster health'));
    });

    it('is idempotent: a re-run with everything registered succeeds without changes', () => {
      const run = runScript(script, fakes, {}, (state) => {
        fs.writeFileSync(path.join(state, `ns-${worker.TEMPORAL_NAMESPACE}`), '');
        fs.writeFileSync(path.join(state, 'sa'), SEARCH_ATTRIBUTES.map(([n, t]) => `${n.padEnd(20)} ${t}\n`).join(''));
      });
      assert.equal(run.status, 0, run.stderr);
      assert.ok(!run.calls.some((c) => c.slice(0, 3).join(' ') === 'operator namespace create'));
      assert.equal(creates(run).length, SEARCH_ATTRIBUTES.length, 'one attempt each, then accepted');
    });

    it('retries while a new namespace is not yet visible', () => {
      const run = runScript(script, fakes, {}, (state) => fs.writeFileSync(path.join(state, 'lag'), ''));
      assert.equal(run.status, 0, run.stderr);
      const first = creates(run).filter((c) => flag(c, '--name') === SEARCH_ATTRIBUTES[0][0]);
      assert.equal(first.length, 2, 'first attribute retried once');
    });

    it('fails when an attribute exists with a different type', () => {
      const run = runScript(script, fakes, {}, (state) => {
        fs.writeFileSync(path.join(state, `ns-${worker.TEMPORAL_NAMESPACE}`), '');
        fs.writeFileSync(path.join(state, 'sa'), `${'RiskTier'.padEnd(20)} Keyword\n`);
      });
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, /RiskTier/);
    });
  });
});

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  image: string;
  name?: string;
  body: Instruction[];
}

/** Dockerfile instructions with continuation lines joined and comment lines dropped. */
function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      buf += line.replace(/\\\s*$/, ' ');
      continue;
    }
    buf += line;
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(buf);
    if (m) out.push({ op: m[1].toUpperCase(), args: m[2].replace(/\s+/g, ' ').trim() });
    buf = '';
  }
  return out;
}

/** Stages of the Dockerfile, with FROM images resolved against the global ARG defaults. */
function dockerStages(): Stage[] {
  const instructions = dockerInstructions(read('Dockerfile'));
  // ARGs declared before the first FROM are the only ones FROM may use.
  const globalArgs: Record<string, string> = {};
  for (const ins of instructions) {
    if (ins.op === 'FROM') break;
    const m = /^(\w+)=(.*)$/.exec(ins.args);
    if (ins.op === 'ARG' && m) globalArgs[m[1]] = m[2];
  }
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `FROM ${ins.args}`);
      const image = m[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => globalArgs[a ?? b] ?? '');
      stages.push({ image, name: m[2], body: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].body.push(ins);
    }
  }
  assert.ok(stages.length > 0, 'Dockerfile has a FROM');
  return stages;
}

const runs = (body: Instruction[]): string[] => body.filter((i) => i.op === 'RUN').map((i) => i.args);

describe('deploy: Dockerfile', () => {
  let stages: Stage[];
  let runtime: Stage;
  let pkg: { bin: Record<string, string>; scripts: Record<string, string> };
  before(() => {
    stages = dockerStages();
    runtime = stages[stages.length - 1];
    pkg = JSON.parse(read('package.json')) as typeof pkg;
  });

  it('is multi-stage on node:20-bookworm-slim', () => {
    assert.ok(stages.length >= 2, 'at least a build and a runtime stage');
    for (const s of stages) assert.equal(s.image, 'node:20-bookworm-slim');
  });

  it('builds with npm ci and npm run build, and ships the compiled lib/', () => {
    const build = stages.find((s) => s.name !== undefined && runs(s.body).some((r) => /\bnpm run build\b/.test(r)));
    assert.ok(build, 'a named stage runs npm run build');
    const cmds = runs(build.body);
    const ci = cmds.findIndex((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r));
    const compile = cmds.findIndex((r) => /\bnpm run build\b/.test(r));
    assert.ok(ci >= 0 && ci < compile, 'npm ci (with dev deps) before npm run build');
    assert.ok(pkg.scripts.build, 'package.json has a build script');
    const { compilerOptions } = JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string } };
    const copies = runtime.body.filter((i) => i.op === 'COPY').map((i) => i.args);
    assert.ok(
      copies.some((c) => c.startsWith(`--from=${build.name} `) && c.includes(`/${compilerOptions.outDir} `)),
      `runtime copies ${compilerOptions.outDir}/ from the ${build.name} stage`,
    );
    for (const dir of ['bin', 'db/migrations']) {
      assert.ok(
        copies.some((c) => c.split(' ').some((p) => p.endsWith(`/${dir}`) || p === dir)),
        `copies ${dir}`,
      );
    }
  });

  it('installs git and bubblewrap with apt-get and cleans the lists', () => {
    const apt = runs(runtime.body).find((r) => /apt-get install/.test(r));
    assert.ok(apt, 'runtime stage apt-get installs');
    const pkgs = apt
      .split('&&')
      .find((p) => p.includes('apt-get install'))!
      .split(' ');
    assert.ok(pkgs.includes('git'), 'git');
    assert.ok(pkgs.includes('bubblewrap'), 'bubblewrap');
    assert.match(apt, /apt-get update/);
    assert.match(apt, /rm -rf \/var\/lib\/apt\/lists/);
    assert.ok(
      runs(runtime.body).some((r) => /\bnpm ci\b.*--omit=dev/.test(r)),
      'production deps only',
    );
  });

  it('runs as a non-root user that owns ARBITER_HOME', () => {
    const users = runtime.body.filter((i) => i.op === 'USER').map((i) => i.args);
    const user = users.at(-1);
    assert.ok(user, 'runtime stage sets USER');
    assert.ok(!['root', '0', 'root:root', '0:0'].includes(user), `USER ${user} is not root`);
    const setup = runs(runtime.body).join(' && ');
    assert.match(setup, new RegExp(`useradd\\b[^&]*\\b${user}\\b`), `user ${user} is created`);
    const envLine = runtime.body
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    const home = /ARBITER_HOME=(\S+)/.exec(envLine)?.[1];
    assert.equal(home, '/var/lib/arbiter');
    assert.match(setup, new RegExp(`chown [^&]*${user}[^&]* ${home}`), 'ARBITER_HOME owned by the user');
    assert.match(envLine, /\bHOME=\/home\//, 'HOME set for the user');
    assert.equal(home, envOf(loadCompose().services['arbiter-worker']).ARBITER_HOME, 'same as compose');
  });

  it('runs bin/arbiter.js, defaulting to the worker, consistently with compose', () => {
    const entry = runtime.body.filter((i) => i.op === 'ENTRYPOINT').at(-1);
    const cmd = runtime.body.filter((i) => i.op === 'CMD').at(-1);
    assert.ok(entry && cmd);
    const entrypoint = JSON.parse(entry.args) as string[];
    assert.deepEqual(entrypoint, ['node', pkg.bin.arbiter]);
    assert.equal(pkg.bin.arbiter, 'bin/arbiter.js');
    assert.deepEqual(JSON.parse(cmd.args), ['worker']);
    const worker = loadCompose().services['arbiter-worker'];
    assert.equal(worker.build, '.', 'worker is built from this Dockerfile');
    assert.equal(worker.entrypoint, undefined, 'compose keeps the image entrypoint');
    assert.deepEqual([...entrypoint, ...asList(worker.command)], ['node', 'bin/arbiter.js', 'worker']);
  });
});

describe('deploy: .dockerignore', () => {
  let patterns: string[];
  before(() => {
    patterns = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  });
  const ignored = (p: string): boolean =>
    patterns.some((pat) => !pat.startsWith('!') && picomatch(pat, { dot: true })(p));

  it('keeps local state and build output out of the context', () => {
    for (const p of ['node_modules', 'lib', '.git', '.arbiter', 'examples/x/node_modules']) {
      assert.ok(ignored(p), `${p} is ignored`);
    }
  });

  it('keeps everything the image build needs', () => {
    for (const p of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'bin',
      'bin/arbiter.js',
      'db',
      'db/migrations',
      'workers',
      'client',
      'domain',
      'workflows',
      'activities',
    ]) {
      assert.ok(!ignored(p), `${p} must reach the build`);
    }
  });
});
