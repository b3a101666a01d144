/**
 * winston JSON logs for the whole process, bridged into the Temporal runtime so SDK, workflow
 * and activity logs (`log` from the SDK) come out as the same JSON lines, each tagged with the
 * task and tenant parsed from the workflow id.
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import * as winston from 'winston';
import { parseTaskWorkflowId } from '../temporal-config';

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

/** Where log lines go: a file for the local stack (stdout belongs to the user), stdout in production. */
export interface LoggerOptions {
  level: keyof typeof LEVELS;
  file?: string;
  console?: boolean;
}

/** The process's winston logger. */
export function createWinstonLogger(options: LoggerOptions): winston.Logger {
  const transports: winston.transport[] = [];
  if (options.file) transports.push(new winston.transports.File({ filename: options.file }));
  if (options.console ?? !options.file) transports.push(new winston.transports.Console());
  return winston.createLogger({
    levels: LEVELS,
    level: options.level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports,
  });
}

/**
 * Adds `taskId`/`tenantId` to any line that carries a task workflow id, and drops the activity
 * task token: it is a credential that can complete the activity, so it never reaches logs.
 */
export function withTaskIds(meta: LogMetadata = {}): LogMetadata {
  const { taskToken: _token, ...rest } = meta;
  const workflowId = typeof rest.workflowId === 'string' ? rest.workflowId : undefined;
  const ref = workflowId ? parseTaskWorkflowId(workflowId) : undefined;
  return ref ? { ...rest, taskId: ref.taskId, tenantId: ref.tenantId } : rest;
}

/** Temporal's Logger interface on top of winston. */
export class WinstonTemporalLogger implements Logger {
  constructor(private readonly winstonLogger: winston.Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    // winston formats a line before its transports drop it by level: the SDK's trace and debug
    // lines (protobuf activations among them) cost a loaded worker's main thread a few percent of
    // its CPU unless dropped here.
    const winstonLevel = level.toLowerCase();
    if (!this.winstonLogger.isLevelEnabled(winstonLevel)) return;
    this.winstonLogger.log(winstonLevel, message, withTaskIds(meta));
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** A logger that drops everything: for bundling and mock activity environments in tests and benchmarks. */
export const SILENT_LOGGER: Logger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
