/**
 * What a phase asked of the Temporal server, from its Prometheus endpoint: the frontend's calls
 * and the persistence operations, by operation, per workflow. CPU says how much the server spent
 * on a task; these say on what, so a task and a floor workflow can be compared call by call.
 */

/** Counter totals by `metric operation` (service calls: the frontend's only). */
export type ServerCounts = Map<string, number>;

const COUNTER = /^(service_requests|persistence_requests)\{([^}]*)\} ([0-9.e+]+)$/;

function label(labels: string, name: string): string | undefined {
  return new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(labels)?.[1];
}

/**
 * Reads the counters now; an endpoint that does not answer yields none (the figures are extra).
 * `detail` keys each by the service and namespace that counted it as well.
 */
export async function scrapeServer(url: string | undefined, detail = false): Promise<ServerCounts> {
  const counts: ServerCounts = new Map();
  if (!url) return counts;
  const text = await fetch(url, { signal: AbortSignal.timeout(5_000) })
    .then((r) => r.text())
    .catch(() => '');
  for (const line of text.split('\n')) {
    const m = COUNTER.exec(line);
    if (!m) continue;
    const [, metric, labels, value] = m;
    if (metric === 'service_requests' && label(labels, 'service_name') !== 'frontend') continue;
    const where = detail ? `/${label(labels, 'service_name')}/${label(labels, 'namespace')}` : '';
    const key = `${metric === 'service_requests' ? 'call' : 'store'} ${label(labels, 'operation') ?? '?'}${where}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(value));
  }
  return counts;
}

/** The counters' growth from `before` to `after`, divided by `per`, largest first. */
export function perWorkflow(before: ServerCounts, after: ServerCounts, per: number): Array<[string, number]> {
  return [...after]
    .map(([key, value]): [string, number] => [key, (value - (before.get(key) ?? 0)) / per])
    .filter(([, value]) => value >= 0.05)
    .sort((a, b) => b[1] - a[1]);
}

/** One phase's calls and stores per workflow, for the report. */
export function describeServerCounts(rows: Array<[string, number]>): string {
  if (rows.length === 0) return '  server: no metrics (a server given by --address needs --metrics URL)';
  const sum = (kind: string) => rows.filter(([k]) => k.startsWith(kind)).reduce((s, [, v]) => s + v, 0);
  const list = (kind: string) =>
    rows
      .filter(([k]) => k.startsWith(kind))
      .map(([k, v]) => `${k.slice(kind.length + 1)} ${v.toFixed(1)}`)
      .join(', ');
  return (
    `  server calls per workflow ${sum('call').toFixed(1)}: ${list('call')}\n` +
    `  persistence operations per workflow ${sum('store').toFixed(1)}: ${list('store')}`
  );
}
