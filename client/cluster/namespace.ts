/**
 * Readiness and registration on a fresh cluster, as docker-compose.yml's
 * temporal-search-attributes job does: wait for `temporal operator cluster health` to say
 * SERVING, create the namespace if missing, register Arbiter's search attributes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../../temporal-config/ensure-search-attributes';
import { temporalCliPath } from '../paths';

const run = promisify(execFile);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Thrown when the cluster does not report SERVING in time; carries the CLI's last answer. */
export class ClusterNotServingError extends Error {
  constructor(address: string, last: string) {
    super(`Temporal at ${address} is not serving: ${last}`);
    this.name = 'ClusterNotServingError';
  }
}

/** True when `temporal operator cluster health` answers SERVING. */
export async function clusterServing(address: string): Promise<boolean> {
  return (await healthAnswer(address)).includes('SERVING');
}

async function healthAnswer(address: string): Promise<string> {
  try {
    const out = await run(temporalCliPath(), ['operator', 'cluster', 'health', '--address', address], {
      timeout: 10_000,
    });
    return out.stdout.trim();
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/** Polls the health check until SERVING. */
export async function waitForHealth(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await healthAnswer(address);
    if (/\bSERVING\b/.test(last) && !last.includes('NOT_SERVING')) return;
    await pause(1000);
  }
  throw new ClusterNotServingError(address, last);
}

/** Creates `namespace` unless it exists, then registers the search attributes (retrying while the namespace cache catches up). */
export async function registerNamespace(
  address: string,
  namespace: string,
  say: (line: string) => void,
): Promise<void> {
  const cli = (...args: string[]) => run(temporalCliPath(), ['operator', 'namespace', ...args, '--address', address]);
  const exists = await cli('describe', '--namespace', namespace).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await cli('create', '--namespace', namespace, '--retention', '168h');
    say(`created namespace ${namespace}`);
  }
  const connection = await Connection.connect({ address });
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await ensureSearchAttributes(connection.operatorService, namespace, true);
        break;
      } catch (err) {
        if (attempt >= 30) throw err;
        await pause(1000);
      }
    }
  } finally {
    await connection.close();
  }
  say(`namespace ${namespace} has Arbiter's search attributes`);
}
