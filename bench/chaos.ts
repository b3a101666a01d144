/**
 * The chaos suite: `node lib/bench/chaos.js [--minutes 10] [--target dev|cluster]
 * [--in-flight 12] [--workers 2] [--faults worker,temporal,postgres] [--drain-minutes 20]`.
 * Prints tasks, faults by kind, lost, duplicated and the longest stall after a fault; exits
 * non-zero on any violation.
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from './chaos/faults';
import { describeReport } from './chaos/report';
import { DEFAULT_FAULTS, runChaos } from './chaos/run';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      target: { type: 'string', default: 'dev' },
      'in-flight': { type: 'string', default: '12' },
      workers: { type: 'string', default: '2' },
      faults: { type: 'string', default: FAULT_KINDS.join(',') },
      'drain-minutes': { type: 'string', default: '20' },
    },
  });
  const target = values.target;
  if (target !== 'dev' && target !== 'cluster') throw new Error('--target is dev or cluster');
  const kinds = values.faults.split(',').filter(Boolean) as FaultKind[];
  const unknown = kinds.filter((k) => !FAULT_KINDS.includes(k));
  if (unknown.length) throw new Error(`unknown fault kinds: ${unknown.join(', ')}`);
  const report = await runChaos({
    minutes: Number(values.minutes),
    target,
    inFlight: Number(values['in-flight']),
    workers: Number(values.workers),
    faults: { ...DEFAULT_FAULTS, kinds },
    drainMinutes: Number(values['drain-minutes']),
    say: (line) => console.log(line),
  });
  const { lines, ok } = describeReport(report);
  for (const line of lines) console.log(line);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
