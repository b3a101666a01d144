/**
 * The winston ↔ Temporal logger bridge, writing real JSON lines to a real file. The runtime
 * logger itself is a process singleton the test stack already installed, so this suite only
 * drives the bridge class and the winston logger directly.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import * as winston from 'winston';
import { WinstonTemporalLogger, createWinstonLogger, withTaskIds } from '../../workers/logger';

type Line = Record<string, unknown>;

function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line);
}

async function linesWhenCount(file: string, count: number, timeoutMs = 5000): Promise<Line[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = readLines(file);
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('worker logger', () => {
  let dir: string;
  let loggers: winston.Logger[];
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'arbiter-log-'));
    loggers = [];
  });
  afterEach(() => {
    for (const l of loggers) l.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function fileLogger(level: 'error' | 'warn' | 'info' | 'debug' | 'trace') {
    const file = path.join(dir, `${level}.log`);
    const w = createWinstonLogger({ level, file, console: false });
    loggers.push(w);
    return { file, w, bridge: new WinstonTemporalLogger(w) };
  }

  it('writes JSON lines with level, message, timestamp and the task ids parsed from the workflow id', async () => {
    const { file, bridge } = fileLogger('info');
    bridge.info('activity started', { workflowId: 'task/acme/TASK-42', activityType: 'runGate', attempt: 1 });
    bridge.warn('no workflow here', { namespace: 'default' });
    bridge.error('not a task workflow', { workflowId: 'cron/nightly' });

    const lines = await linesWhenCount(file, 3);
    assert.equal(lines.length, 3);
    const [tagged, plain, foreign] = lines;

    assert.equal(tagged.level, 'info');
    assert.equal(tagged.message, 'activity started');
    assert.equal(tagged.workflowId, 'task/acme/TASK-42');
    assert.equal(tagged.tenantId, 'acme');
    assert.equal(tagged.taskId, 'TASK-42');
    assert.equal(tagged.activityType, 'runGate');
    assert.equal(tagged.attempt, 1);
    assert.ok(!Number.isNaN(Date.parse(String(tagged.timestamp))), `timestamp ${String(tagged.timestamp)}`);

    assert.deepEqual(
      Object.keys(plain).sort(),
      ['level', 'message', 'namespace', 'timestamp'],
      'a line without a workflow id is left alone',
    );
    assert.equal(plain.level, 'warn');

    assert.equal(foreign.level, 'error');
    assert.equal(foreign.workflowId, 'cron/nightly');
    assert.equal('taskId' in foreign, false);
    assert.equal('tenantId' in foreign, false);
  });

  it('maps every Temporal level onto winston and filters below the configured one', async () => {
    const { file, bridge } = fileLogger('info');
    bridge.trace('t');
    bridge.debug('d');
    bridge.info('i');
    bridge.warn('w');
    bridge.error('e');
    bridge.log('INFO', 'via log');
    const lines = await linesWhenCount(file, 4);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      readLines(file).map((l) => [l.level, l.message]),
      [
        ['info', 'i'],
        ['warn', 'w'],
        ['error', 'e'],
        ['info', 'via log'],
      ],
    );
    assert.equal(lines.length, 4);

    const verbose = fileLogger('trace');
    verbose.bridge.trace('t', { workflowId: 'task/t1/k1' });
    verbose.bridge.debug('d');
    const vlines = await linesWhenCount(verbose.file, 2);
    assert.deepEqual(
      vlines.map((l) => [l.level, l.message]),
      [
        ['trace', 't'],
        ['debug', 'd'],
      ],
    );
    assert.equal(vlines[0].taskId, 'k1');
    assert.equal(vlines[0].tenantId, 't1');
  });

  it('a file logger does not also write to the console unless asked', () => {
    const w = createWinstonLogger({ level: 'info', file: path.join(dir, 'x.log') });
    loggers.push(w);
    assert.equal(w.transports.length, 1);
    assert.ok(w.transports[0] instanceof winston.transports.File);
    const both = createWinstonLogger({ level: 'info', file: path.join(dir, 'y.log'), console: true });
    loggers.push(both);
    assert.equal(both.transports.length, 2);
    const stdout = createWinstonLogger({ level: 'info' });
    loggers.push(stdout);
    assert.equal(stdout.transports.length, 1);
    assert.ok(stdout.transports[0] instanceof winston.transports.Console);
  });

  it('bridges through any winston logger (stream transport) with the same tagging', async () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    const w = winston.createLogger({
      levels: { error: 0, warn: 1, info: 2, debug: 3, trace: 4 },
      level: 'trace',
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream })],
    });
    loggers.push(w);
    new WinstonTemporalLogger(w).info('hello', { workflowId: 'task/tenant-b/task:1.x' });
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(chunks.join('').trim()) as Line;
    assert.deepEqual(line, {
      level: 'info',
      message: 'hello',
      workflowId: 'task/tenant-b/task:1.x',
      tenantId: 'tenant-b',
      taskId: 'task:1.x',
    });
  });

  describe('withTaskIds', () => {
    it('adds ids only for well-formed task workflow ids and never mutates the input', () => {
      const meta = { workflowId: 'task/acme/T1', runId: 'r' };
      const out = withTaskIds(meta);
      assert.deepEqual(out, { workflowId: 'task/acme/T1', runId: 'r', tenantId: 'acme', taskId: 'T1' });
      assert.deepEqual(meta, { workflowId: 'task/acme/T1', runId: 'r' });

      for (const workflowId of ['task/acme', 'task/acme/T1/extra', 'task//T1', 'tasks/acme/T1', 'other', '']) {
        const m = { workflowId };
        assert.deepEqual(withTaskIds(m), { workflowId }, workflowId);
      }
      assert.deepEqual(withTaskIds({ workflowId: 42 }), { workflowId: 42 });
      assert.deepEqual(withTaskIds(undefined), {});
    });
  });

  it('does not format a line below its level: metadata of a dropped trace line is never read', () => {
    const w = winston.createLogger({ levels: { error: 0, warn: 1, info: 2, debug: 3, trace: 4 }, level: 'info' });
    loggers.push(w);
    let formatted = 0;
    w.format = winston.format((info) => (formatted++, info))();
    w.add(new winston.transports.Stream({ stream: new PassThrough() }));
    const bridge = new WinstonTemporalLogger(w);
    const meta = {
      get activation(): unknown {
        throw new Error('a dropped line was formatted');
      },
    };
    bridge.trace('activation', meta);
    bridge.debug('activation', meta);
    assert.equal(formatted, 0);
    bridge.info('kept', { n: 1 });
    assert.equal(formatted, 1);
  });
});
