/**
 * The chaos run's report and its verdict: the figures printed, and whether the run held. It holds
 * only with nothing lost, duplicated or broken, every configured fault kind injected at least
 * once (a run that skipped one proved nothing about it) and no stall of a minute or more.
 */
import type { ChaosFindings } from './checks';
import type { FaultKind, InjectedFault } from './faults';

/** The run's figures and findings. */
export interface ChaosReport extends ChaosFindings {
  tasks: number;
  /** How often each configured kind was injected: every configured kind is a key, even at zero. */
  faultsByKind: Partial<Record<FaultKind, number>>;
  seconds: number;
}

/** The longest stall the run may show and still hold. */
export const STALL_LIMIT_MS = 60_000;

/** How often each of `kinds` was injected, zero included. */
export function countFaults(kinds: FaultKind[], faults: InjectedFault[]): ChaosReport['faultsByKind'] {
  return Object.fromEntries(kinds.map((k) => [k, faults.filter((f) => f.kind === k).length]));
}

/** The configured fault kinds the run never injected. */
export function faultKindsMissed(report: Pick<ChaosReport, 'faultsByKind'>): string[] {
  return Object.entries(report.faultsByKind)
    .filter(([, n]) => !n)
    .map(([kind]) => kind);
}

const listed = (counts: Record<string, number | undefined>) =>
  Object.entries(counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

/** The report as printed, and whether it holds. */
export function describeReport(report: ChaosReport): { lines: string[]; ok: boolean } {
  const missed = faultKindsMissed(report);
  const ok =
    !report.lost.length &&
    !report.duplicated.length &&
    !report.broken.length &&
    !missed.length &&
    report.stall.ms < STALL_LIMIT_MS;
  const { stall } = report;
  const lines = [
    `tasks: ${report.tasks} (${listed(report.outcomes)}) in ${Math.round(report.seconds)} s`,
    ...Object.entries(report.errors).map(([e, n]) => `  ${n}× ${e}`),
    `faults: ${listed(report.faultsByKind)}${missed.length ? ` (never injected: ${missed.join(', ')})` : ''}`,
    `lost: ${report.lost.length}`,
    `duplicated: ${report.duplicated.length}`,
    `other violations: ${report.broken.length}`,
    `longest stall after a fault: ${(stall.ms / 1000).toFixed(1)} s${stall.task ? ` (${stall.task} in ${stall.state} after ${stall.fault})` : ''}`,
    ...[...report.lost, ...report.duplicated, ...report.broken].slice(0, 40).map((v) => `  ${v}`),
    ok ? 'OK' : 'VIOLATIONS',
  ];
  return { lines, ok };
}
