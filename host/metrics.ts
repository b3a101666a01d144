/**
 * Arbiter's metrics that the host side knows first (the sandbox's refusals and health), on the
 * process's Temporal runtime meter once a worker process has installed it (the same Prometheus
 * endpoint as the SDK's own metrics); dropped in processes that run no worker, such as the CLI,
 * which must not start a Temporal runtime to probe the sandbox. Labels come from closed sets
 * only, so no agent or submitter can grow the number of series.
 */
import { noopMetricMeter, type MetricMeter } from '@temporalio/common';

let current: MetricMeter = noopMetricMeter;
const meter = () => current;

/** Sends the host's metrics to `m` (the worker runtime's meter, when the runtime is installed). */
export function useMetricMeter(m: MetricMeter): void {
  current = m;
}

/** Counts an operation the sandbox, the file tools or the model gateway refused. */
export function countSandboxRefusal(kind: 'file' | 'command' | 'gateway'): void {
  meter().createCounter('arbiter_sandbox_refusals', '', 'operations refused, by kind').add(1, { kind });
}

/** Reports whether this worker can confine commands (1) or not (0): without it, every task fails. */
export function reportSandboxAvailable(available: boolean): void {
  meter()
    .createGauge('arbiter_sandbox_available', 'int', '', 'whether commands can run confined on this worker')
    .set(available ? 1 : 0);
}
