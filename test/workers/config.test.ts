/** Worker and client configuration parsed from the environment: defaults, errors, secrets. */
import assert from 'node:assert/strict';
import { DEFAULT_SANDBOX_CONFIG } from '../../host/sandbox/config';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadClientConfig, stackFile } from '../../client/config';
import {
  ConfigError,
  DEFAULT_MAX_CACHED_WORKFLOWS,
  DEFAULT_SHUTDOWN_GRACE_SECONDS,
  DEFAULT_WORKFLOW_HEAP_MB,
  describeWorkerConfig,
  loadWorkerConfig,
} from '../../workers/config';
import { namespaceForTenant } from '../../temporal-config/connection';
import { DEFAULT_MODEL_KEYS } from '../../domain/model-keys';
import { projectRoot } from '../../client/paths';

const DB_PASSWORD = 'pg-Pa55word-do-not-log';
const API_KEY = 'tmprl-api-key-do-not-log-1234567890';

describe('worker config', () => {
  it('has the documented defaults for an empty environment', () => {
    const { secretEnv, ...config } = loadWorkerConfig({}, '/srv/arbiter');
    assert.equal(secretEnv('ANY_KEY'), undefined, 'no secrets in an empty environment');
    assert.deepEqual(config, {
      temporal: {
        address: '127.0.0.1:7233',
        namespace: 'default',
        tls: false,
        tlsCertPath: undefined,
        tlsKeyPath: undefined,
        apiKey: undefined,
        tenantNamespaces: {},
      },
      databaseUrl: undefined,
      adminDatabaseUrl: undefined,
      home: '/srv/arbiter/.arbiter',
      homeNamed: false,
      taskQueue: 'arbiter-tasks',
      logLevel: 'info',
      sandbox: DEFAULT_SANDBOX_CONFIG,
      retentionHours: 24,
      signingKeyFile: undefined,
      privateRegistries: [],
      privateUpstreams: [],
      modelKeys: DEFAULT_MODEL_KEYS,
      toolDirRoots: [path.join(projectRoot(), 'node_modules')],
      maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS,
      workflowHeapMb: DEFAULT_WORKFLOW_HEAP_MB,
      hostConcurrency: undefined,
      shutdownGraceSeconds: DEFAULT_SHUTDOWN_GRACE_SECONDS,
      metricsAddress: undefined,
      tracing: { otlpTracesUrl: undefined, serviceName: 'arbiter' },
      deployment: undefined,
    });
  });

  it('reads ARBITER_METRICS_ADDRESS as host:port and refuses anything else', () => {
    assert.equal(loadWorkerConfig({ ARBITER_METRICS_ADDRESS: '0.0.0.0:9464' }).metricsAddress, '0.0.0.0:9464');
    assert.equal(loadWorkerConfig({ ARBITER_METRICS_ADDRESS: '[::1]:9464' }).metricsAddress, '[::1]:9464');
    for (const bad of ['9464', 'http://0.0.0.0:9464', 'host:port', ':9464'])
      assert.throws(() => loadWorkerConfig({ ARBITER_METRICS_ADDRESS: bad }), /ARBITER_METRICS_ADDRESS/, bad);
  });

  it('traces to the standard OTLP endpoint variables, and logs the endpoint without its credentials', () => {
    const base = loadWorkerConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' });
    assert.equal(base.tracing.otlpTracesUrl, 'http://collector:4318/v1/traces');
    const own = loadWorkerConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://user:s3cret@traces.example/v1/traces?token=s3cret',
      OTEL_SERVICE_NAME: 'arbiter-eu',
    });
    assert.equal(own.tracing.serviceName, 'arbiter-eu');
    const logged = JSON.stringify(describeWorkerConfig(own));
    assert.ok(logged.includes('https://traces.example/v1/traces'), logged);
    assert.ok(!logged.includes('s3cret'), 'no credentials of the endpoint in the log');
    assert.throws(() => loadWorkerConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' }), /OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it('versions the worker only with ARBITER_BUILD_ID, and refuses a build id the server would not take', () => {
    assert.deepEqual(loadWorkerConfig({ ARBITER_BUILD_ID: '2026.12.1-abc' }).deployment, {
      name: 'arbiter',
      buildId: '2026.12.1-abc',
      promote: 'when-unset',
      behavior: 'pinned',
    });
    assert.equal(
      loadWorkerConfig({ ARBITER_BUILD_ID: 'b1', ARBITER_VERSIONING_BEHAVIOR: 'auto-upgrade' }).deployment?.behavior,
      'auto-upgrade',
    );
    assert.equal(loadWorkerConfig({ ARBITER_DEPLOYMENT_NAME: 'x' }).deployment, undefined);
    for (const bad of ['has space', 'a/b', 'x'.repeat(65), '-lead'])
      assert.throws(() => loadWorkerConfig({ ARBITER_BUILD_ID: bad }), /ARBITER_BUILD_ID/, bad);
    assert.throws(
      () => loadWorkerConfig({ ARBITER_BUILD_ID: 'b1', ARBITER_PROMOTE_ON_START: 'sometimes' }),
      /ARBITER_PROMOTE_ON_START/,
    );
  });

  it('reads ARBITER_SHUTDOWN_GRACE_SECONDS, and refuses a negative or fractional one', () => {
    assert.equal(loadWorkerConfig({ ARBITER_SHUTDOWN_GRACE_SECONDS: '900' }).shutdownGraceSeconds, 900);
    assert.equal(loadWorkerConfig({ ARBITER_SHUTDOWN_GRACE_SECONDS: '0' }).shutdownGraceSeconds, 0);
    for (const bad of ['-1', '2.5', 'soon'])
      assert.throws(
        () => loadWorkerConfig({ ARBITER_SHUTDOWN_GRACE_SECONDS: bad }),
        /ARBITER_SHUTDOWN_GRACE_SECONDS/,
        bad,
      );
  });

  it('reads ARBITER_MAX_CACHED_WORKFLOWS, 0 included, and refuses what the SDK would silently change', () => {
    assert.equal(loadWorkerConfig({ ARBITER_MAX_CACHED_WORKFLOWS: '250' }).maxCachedWorkflows, 250);
    assert.equal(loadWorkerConfig({ ARBITER_MAX_CACHED_WORKFLOWS: '0' }).maxCachedWorkflows, 0);
    for (const bad of ['1', '-5', '2.5', 'many'])
      assert.throws(
        () => loadWorkerConfig({ ARBITER_MAX_CACHED_WORKFLOWS: bad }),
        (e: unknown) => e instanceof ConfigError && /ARBITER_MAX_CACHED_WORKFLOWS/.test(e.message),
        bad,
      );
  });

  it('reads ARBITER_WORKFLOW_HEAP_MB and refuses a limit no cache of runs fits in', () => {
    assert.equal(loadWorkerConfig({ ARBITER_WORKFLOW_HEAP_MB: '384' }).workflowHeapMb, 384);
    for (const bad of ['0', '64', '-512', '1.5', 'lots'])
      assert.throws(
        () => loadWorkerConfig({ ARBITER_WORKFLOW_HEAP_MB: bad }),
        (e: unknown) => e instanceof ConfigError && /ARBITER_WORKFLOW_HEAP_MB/.test(e.message),
        bad,
      );
  });

  it('reads ARBITER_TOOL_DIRS: absolute folders, `,` for none, node_modules when unset', () => {
    assert.deepEqual(loadWorkerConfig({ ARBITER_TOOL_DIRS: '/srv/agents/, /opt' }).toolDirRoots, [
      '/srv/agents',
      '/opt',
    ]);
    assert.deepEqual(loadWorkerConfig({ ARBITER_TOOL_DIRS: ',' }).toolDirRoots, []);
    assert.deepEqual(loadWorkerConfig({}).toolDirRoots, [path.join(projectRoot(), 'node_modules')]);
    assert.throws(
      () => loadWorkerConfig({ ARBITER_TOOL_DIRS: '/opt,tools' }),
      (e: unknown) => e instanceof ConfigError && /ARBITER_TOOL_DIRS.*'tools' is not an absolute path/s.test(e.message),
    );
  });

  it('reads ARBITER_MODEL_KEYS, empty for no keys at all, and names each malformed entry', () => {
    assert.deepEqual(loadWorkerConfig({ ARBITER_MODEL_KEYS: 'TEAM_KEY@LLM.internal:8443' }).modelKeys, [
      { name: 'TEAM_KEY', host: 'llm.internal', port: '8443' },
    ]);
    assert.deepEqual(loadWorkerConfig({ ARBITER_MODEL_KEYS: ',' }).modelKeys, []);
    const logged = describeWorkerConfig(
      loadWorkerConfig({ ARBITER_MODEL_KEYS: 'K@h:1,L@i,M@http://j:80', K: 'the-key-itself' }),
    );
    assert.deepEqual(
      logged.modelKeys,
      ['K@h:1', 'L@i', 'M@http://j:80'],
      'the worker says at start which keys go where (plain http as such), never a value',
    );
    assert.throws(
      () => loadWorkerConfig({ ARBITER_MODEL_KEYS: 'OK@h,https://evil.example' }),
      (e: unknown) => e instanceof ConfigError && /ARBITER_MODEL_KEYS.*'https:\/\/evil\.example'/s.test(e.message),
    );
  });

  it('reads ARBITER_HOST_CONCURRENCY as a whole number of steps from 1 to 1000', () => {
    assert.equal(loadWorkerConfig({ ARBITER_HOST_CONCURRENCY: '4' }).hostConcurrency, 4);
    for (const bad of ['0', '-1', '2.5', '1001', 'many'])
      assert.throws(
        () => loadWorkerConfig({ ARBITER_HOST_CONCURRENCY: bad }),
        (e: unknown) => e instanceof ConfigError && /ARBITER_HOST_CONCURRENCY/.test(e.message),
        bad,
      );
  });

  it('reads every variable and resolves ARBITER_HOME against cwd', () => {
    const config = loadWorkerConfig(
      {
        TEMPORAL_ADDRESS: 'temporal.example:7233',
        TEMPORAL_NAMESPACE: 'arbiter-prod',
        TEMPORAL_TLS: 'true',
        TEMPORAL_TLS_CERT: '/certs/client.pem',
        TEMPORAL_TLS_KEY: '/certs/client.key',
        DATABASE_URL: 'postgres://arbiter:x@db:5432/arbiter',
        ARBITER_HOME: 'state',
        ARBITER_TASK_QUEUE: 'q1',
        LOG_LEVEL: 'debug',
        ARBITER_PRIVATE_REGISTRIES: '10.0.0.5:4873, Verdaccio.internal',
        ARBITER_PRIVATE_UPSTREAMS: 'LocalHost:11434',
        UNRELATED: 'ignored',
      },
      '/srv',
    );
    assert.deepEqual(config.privateRegistries, ['10.0.0.5:4873', 'verdaccio.internal']);
    assert.deepEqual(config.privateUpstreams, ['localhost:11434']);
    assert.equal(config.temporal.address, 'temporal.example:7233');
    assert.equal(config.temporal.namespace, 'arbiter-prod');
    assert.equal(config.temporal.tls, true);
    assert.equal(config.temporal.tlsCertPath, '/certs/client.pem');
    assert.equal(config.temporal.tlsKeyPath, '/certs/client.key');
    assert.equal(config.databaseUrl, 'postgres://arbiter:x@db:5432/arbiter');
    assert.equal(config.home, '/srv/state');
    assert.equal(config.taskQueue, 'q1');
    assert.equal(config.logLevel, 'debug');
    assert.equal(loadWorkerConfig({ ARBITER_HOME: '/abs/home' }, '/srv').home, '/abs/home');
  });

  it('reads the sandbox uid range, refuses a bad one, and refuses the single-uid variables it replaced', () => {
    assert.deepEqual(loadWorkerConfig({ ARBITER_SANDBOX_UID_RANGE: '300000-300099' }).sandbox.uids, {
      first: 300000,
      last: 300099,
    });
    for (const bad of ['300000', '300099-300000', '0-10', '100-200', '2147483000-2147483648', 'a-b'])
      assert.throws(
        () => loadWorkerConfig({ ARBITER_SANDBOX_UID_RANGE: bad }),
        (e: unknown) => e instanceof ConfigError && /ARBITER_SANDBOX_UID_RANGE/.test(e.message),
        bad,
      );
    for (const old of ['ARBITER_SANDBOX_UID', 'ARBITER_SANDBOX_GID'])
      assert.throws(
        () => loadWorkerConfig({ [old]: '65534' }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`${old}: replaced by ARBITER_SANDBOX_UID_RANGE`),
        old,
      );
  });

  it('turns TLS on for an API key and reads boolean flags strictly', () => {
    assert.equal(loadWorkerConfig({ TEMPORAL_API_KEY: API_KEY }).temporal.tls, true);
    assert.equal(loadWorkerConfig({ TEMPORAL_TLS: '1' }).temporal.tls, true);
    assert.equal(loadWorkerConfig({ TEMPORAL_TLS: 'false' }).temporal.tls, false);
    assert.equal(loadWorkerConfig({ TEMPORAL_TLS: '' }).temporal.tls, false);
    assert.throws(
      () => loadWorkerConfig({ TEMPORAL_TLS: 'yes' }),
      (e: unknown) => e instanceof ConfigError && /TEMPORAL_TLS/.test(e.message),
    );
  });

  it('a bad LOG_LEVEL throws a ConfigError naming the variable', () => {
    assert.throws(
      () => loadWorkerConfig({ LOG_LEVEL: 'verbose' }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.name, 'ConfigError');
        assert.match(e.message, /LOG_LEVEL/);
        assert.doesNotMatch(e.message, /DATABASE_URL/);
        return true;
      },
    );
  });

  for (const bad of ['not a url', 'localhost:5432/arbiter', 'mysql://u:p@db/arbiter', 'http://db:5432/arbiter']) {
    it(`a malformed DATABASE_URL (${bad}) throws naming the variable`, () => {
      assert.throws(
        () => loadWorkerConfig({ DATABASE_URL: bad }),
        (e: unknown) => e instanceof ConfigError && /DATABASE_URL/.test(e.message),
      );
    });
  }

  it('accepts both postgres:// and postgresql:// URLs', () => {
    assert.equal(loadWorkerConfig({ DATABASE_URL: 'postgresql://u@db/a' }).databaseUrl, 'postgresql://u@db/a');
    assert.equal(loadWorkerConfig({ DATABASE_URL: 'postgres://u@db/a' }).databaseUrl, 'postgres://u@db/a');
  });

  it('names every bad variable at once', () => {
    assert.throws(
      () => loadWorkerConfig({ LOG_LEVEL: 'loud', DATABASE_URL: 'nope', TEMPORAL_TLS: 'yes' }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /LOG_LEVEL/.test(e.message) &&
        /DATABASE_URL/.test(e.message) &&
        /TEMPORAL_TLS/.test(e.message),
    );
  });

  it('treats an empty variable as unset', () => {
    const config = loadWorkerConfig({ TEMPORAL_NAMESPACE: '', LOG_LEVEL: '', DATABASE_URL: '' }, '/srv');
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.databaseUrl, undefined);
  });

  it('ARBITER_TENANT_NAMESPACES maps each tenant to its namespace; a bad entry is named; unmapped tenants get none', () => {
    const config = loadWorkerConfig({ ARBITER_TENANT_NAMESPACES: 'acme=acme-ns, beta=beta-ns' });
    assert.deepEqual(config.temporal.tenantNamespaces, { acme: 'acme-ns', beta: 'beta-ns' });
    assert.equal(namespaceForTenant(config.temporal, 'beta'), 'beta-ns');
    assert.equal(namespaceForTenant(config.temporal, 'gamma'), undefined, 'a tenant the mapping does not name');
    assert.equal(
      namespaceForTenant(loadWorkerConfig({}).temporal, 'gamma'),
      'default',
      'no mapping: TEMPORAL_NAMESPACE',
    );
    for (const bad of ['acme', 'acme=', 'bad id=ns', 'acme=a,acme=b', 'a=b=c'])
      assert.throws(() => loadWorkerConfig({ ARBITER_TENANT_NAMESPACES: bad }), /ARBITER_TENANT_NAMESPACES/, bad);
  });

  it('ARBITER_ADMIN_DATABASE_URL falls back to DATABASE_URL', () => {
    const url = 'postgres://w@db/arbiter';
    assert.equal(loadWorkerConfig({ DATABASE_URL: url }).adminDatabaseUrl, url);
    const admin = 'postgres://owner@db/arbiter';
    const both = loadWorkerConfig({ DATABASE_URL: url, ARBITER_ADMIN_DATABASE_URL: admin });
    assert.deepEqual([both.databaseUrl, both.adminDatabaseUrl], [url, admin]);
  });

  describe('describeWorkerConfig', () => {
    it('never contains the database password or the API key', () => {
      const config = loadWorkerConfig({
        DATABASE_URL: `postgres://arbiter:${DB_PASSWORD}@db.internal:5432/arbiter`,
        TEMPORAL_API_KEY: API_KEY,
        TEMPORAL_ADDRESS: 'ns.tmprl.cloud:7233',
      });
      const described = describeWorkerConfig(config);
      const text = JSON.stringify(described);
      assert.doesNotMatch(text, new RegExp(DB_PASSWORD));
      assert.doesNotMatch(text, new RegExp(API_KEY));
      assert.equal(described.apiKey, '***');
      assert.equal(described.database, 'postgres://arbiter:***@db.internal:5432/arbiter');
      assert.equal(described.temporalAddress, 'ns.tmprl.cloud:7233');
      assert.equal(described.tls, true);
    });

    it('masks a password given as a URL query parameter too', () => {
      const config = loadWorkerConfig({
        DATABASE_URL: `postgres://arbiter@db/arbiter?sslmode=require&password=${DB_PASSWORD}`,
      });
      const text = JSON.stringify(describeWorkerConfig(config));
      assert.doesNotMatch(text, new RegExp(DB_PASSWORD));
      assert.match(text, /sslmode=require/);
    });

    it('says embedded and no key when there is neither', () => {
      const described = describeWorkerConfig(loadWorkerConfig({}, '/srv'));
      assert.equal(described.database, 'embedded');
      assert.equal(described.apiKey, undefined);
      assert.equal(described.home, '/srv/.arbiter');
      assert.equal(described.taskQueue, 'arbiter-tasks');
    });
  });
});

describe('client config', () => {
  let dir: string;
  let home: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'arbiter-cfg-'));
    home = path.join(dir, 'home');
    mkdirSync(home);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const writeStack = (content: string) => writeFileSync(stackFile(home), content);

  it('keeps stack.json under ARBITER_HOME', () => {
    assert.equal(stackFile(home), path.join(home, 'stack.json'));
  });

  it('has defaults when neither env nor stack.json say anything', () => {
    const config = loadClientConfig({ ARBITER_HOME: home });
    assert.equal(config.temporal.address, '127.0.0.1:7233');
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.temporal.tls, false);
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.home, home);
    assert.equal(config.taskQueue, 'arbiter-tasks');
    assert.equal(config.defaultTenant, 'default');
  });

  it('refuses two servers of the local stack on one port, naming both variables', () => {
    assert.throws(
      () => loadClientConfig({ ARBITER_HOME: home, ARBITER_UI_PORT: '7233' }),
      /ARBITER_UI_PORT: is 7233, the same port as ARBITER_TEMPORAL_PORT/,
    );
    assert.throws(
      () => loadClientConfig({ ARBITER_HOME: home, ARBITER_TEMPORAL_PORT: '9000', ARBITER_PG_PORT: '9000' }),
      /ARBITER_PG_PORT: is 9000, the same port as ARBITER_TEMPORAL_PORT/,
    );
  });

  it('falls back to <ARBITER_HOME>/stack.json when TEMPORAL_ADDRESS and DATABASE_URL are unset', () => {
    writeStack(
      JSON.stringify({
        temporalAddress: '127.0.0.1:17233',
        databaseUrl: 'postgres://arbiter:arbiter-local@127.0.0.1:15432/arbiter',
        uiUrl: 'http://127.0.0.1:18233',
      }),
    );
    const config = loadClientConfig({ ARBITER_HOME: home });
    assert.equal(config.temporal.address, '127.0.0.1:17233');
    assert.equal(config.databaseUrl, 'postgres://arbiter:arbiter-local@127.0.0.1:15432/arbiter');
  });

  it('resolves a relative ARBITER_HOME against cwd to find stack.json', () => {
    writeStack(JSON.stringify({ temporalAddress: '127.0.0.1:27233', databaseUrl: 'postgres://a@h/d' }));
    const config = loadClientConfig({ ARBITER_HOME: 'home' }, dir);
    assert.equal(config.home, home);
    assert.equal(config.temporal.address, '127.0.0.1:27233');
    // Default home is <cwd>/.arbiter.
    assert.equal(loadClientConfig({}, dir).home, path.join(dir, '.arbiter'));
  });

  it('lets the environment win over stack.json, variable by variable', () => {
    writeStack(
      JSON.stringify({ temporalAddress: '127.0.0.1:17233', databaseUrl: 'postgres://local@127.0.0.1:15432/arbiter' }),
    );
    const both = loadClientConfig({
      ARBITER_HOME: home,
      TEMPORAL_ADDRESS: 'prod:7233',
      DATABASE_URL: 'postgres://prod@db:5432/arbiter',
    });
    assert.equal(both.temporal.address, 'prod:7233');
    assert.equal(both.databaseUrl, 'postgres://prod@db:5432/arbiter');

    const addressOnly = loadClientConfig({ ARBITER_HOME: home, TEMPORAL_ADDRESS: 'prod:7233' });
    assert.equal(addressOnly.temporal.address, 'prod:7233');
    assert.equal(addressOnly.databaseUrl, 'postgres://local@127.0.0.1:15432/arbiter');

    const dbOnly = loadClientConfig({ ARBITER_HOME: home, DATABASE_URL: 'postgres://prod@db:5432/arbiter' });
    assert.equal(dbOnly.temporal.address, '127.0.0.1:17233');
    assert.equal(dbOnly.databaseUrl, 'postgres://prod@db:5432/arbiter');
  });

  it('ignores an unreadable stack.json rather than failing', () => {
    writeStack('{ not json');
    const config = loadClientConfig({ ARBITER_HOME: home });
    assert.equal(config.temporal.address, '127.0.0.1:7233');
    assert.equal(config.databaseUrl, undefined);
  });

  it('reads tenant, queue, namespace and TLS settings', () => {
    const config = loadClientConfig({
      ARBITER_HOME: home,
      ARBITER_TENANT: 'acme',
      ARBITER_TASK_QUEUE: 'q2',
      TEMPORAL_NAMESPACE: 'ns',
      TEMPORAL_API_KEY: API_KEY,
    });
    assert.equal(config.defaultTenant, 'acme');
    assert.equal(config.taskQueue, 'q2');
    assert.equal(config.temporal.namespace, 'ns');
    assert.equal(config.temporal.tls, true);
    assert.equal(config.temporal.apiKey, API_KEY);
    assert.equal(loadClientConfig({ ARBITER_HOME: home, TEMPORAL_TLS: '1' }).temporal.tls, true);
  });

  it('a malformed DATABASE_URL throws naming the variable', () => {
    for (const bad of ['not a url', 'localhost:5432/arbiter']) {
      assert.throws(() => loadClientConfig({ ARBITER_HOME: home, DATABASE_URL: bad }), /DATABASE_URL/, bad);
    }
    assert.throws(() => loadClientConfig({ ARBITER_HOME: home, TEMPORAL_TLS: 'maybe' }), /TEMPORAL_TLS/);
  });
});
