/**
 * The cluster's server configuration: the module's `development-postgres12.yaml` with this
 * run's ports and database, no metrics or pprof listeners (several server processes share the
 * host), archival off, and a dynamic config enabling Workflow Update (waiver approvals).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { SERVER_RUN_LIMITS } from '../../temporal-config';

/** The four Temporal services; each runs as its own process. */
export const CLUSTER_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
/** One Temporal service. */
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

/** Port offsets from the frontend's gRPC port, as in the template (7233, 7234, 7235, 7239). */
const GRPC_OFFSET: Record<ClusterService, number> = { frontend: 0, history: 1, matching: 2, worker: 6 };
/** Membership ports sit 300 below gRPC ports in the template (6933…). */
const MEMBERSHIP_OFFSET = -300;

/**
 * Every port the services listen on for a frontend on `frontendPort`. Membership ports are
 * stored as a PostgreSQL smallint, so they must stay below 32768.
 */
export function clusterPorts(frontendPort: number): number[] {
  const grpc = CLUSTER_SERVICES.map((s) => frontendPort + GRPC_OFFSET[s]);
  const membership = grpc.map((p) => p + MEMBERSHIP_OFFSET);
  if (Math.max(...membership) > 32767) {
    throw new RangeError(`frontend port ${frontendPort} is too high: membership ports must stay below 32768`);
  }
  return [...grpc, ...membership, frontendPort + 10];
}

/** Where the persistence database listens and how to log in. */
export interface ClusterDatabase {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The parts of the server's config file this module changes. */
interface ServerConfig {
  log: unknown;
  persistence: { datastores: Record<string, { sql: Record<string, unknown> }> };
  global: Record<string, unknown>;
  services: Record<ClusterService, { rpc: Record<string, unknown> }>;
  clusterMetadata: { clusterInformation: { active: { rpcAddress: string } } };
  archival: unknown;
  namespaceDefaults: unknown;
  dynamicConfigClient: unknown;
}

/** Writes `<dir>/server.yaml` and `<dir>/dynamic.yaml`; returns the server config path. */
export function writeClusterConfig(options: {
  template: string;
  dir: string;
  frontendPort: number;
  database: ClusterDatabase;
}): string {
  const config = parse(readFileSync(options.template, 'utf8')) as ServerConfig;
  const dynamicFile = path.join(options.dir, 'dynamic.yaml');
  config.log = { stdout: true, level: 'warn' };
  for (const store of Object.values(config.persistence.datastores)) {
    Object.assign(store.sql, {
      connectAddr: `${options.database.host}:${options.database.port}`,
      user: options.database.user,
      password: options.database.password,
    });
  }
  delete config.global.metrics;
  delete config.global.pprof;
  for (const service of CLUSTER_SERVICES) {
    const rpc = config.services[service].rpc;
    rpc.grpcPort = options.frontendPort + GRPC_OFFSET[service];
    rpc.membershipPort = options.frontendPort + GRPC_OFFSET[service] + MEMBERSHIP_OFFSET;
    if (service === 'frontend') rpc.httpPort = options.frontendPort + 10;
  }
  config.clusterMetadata.clusterInformation.active.rpcAddress = `127.0.0.1:${options.frontendPort}`;
  config.archival = { history: { state: 'disabled' }, visibility: { state: 'disabled' } };
  config.namespaceDefaults = { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } };
  config.dynamicConfigClient = { filepath: dynamicFile, pollInterval: '10s' };
  writeFileSync(dynamicFile, stringify(DYNAMIC_CONFIG));
  const file = path.join(options.dir, 'server.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

const on = (value: unknown) => [{ value, constraints: {} }];

/** As docker-compose.yml's, plus what the dev server sets so a new search attribute is usable at once. */
const DYNAMIC_CONFIG = {
  'frontend.enableUpdateWorkflowExecution': on(true),
  'system.forceSearchAttributesCacheRefreshOnRead': on(true),
  ...Object.fromEntries(Object.entries(SERVER_RUN_LIMITS).map(([key, value]) => [key, on(value)])),
};
