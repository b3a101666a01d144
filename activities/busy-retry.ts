/**
 * How often a task waiting for agent capacity asks again. Steps back off to at most 10 s (the
 * workflows' retry policy), so the end of a database or server outage is noticed within
 * seconds; waiting for capacity keeps its own, gentler pace: 1 s doubling up to 30 s.
 */
import { retriedAs, translateErrors, type Activity } from './wrap';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { AgentsBusyError } from '../domain/errors';

/** The longest pause between two routing attempts while every capable agent is busy. */
export const BUSY_RETRY_MAX_MS = 30_000;

/** The pause before routing attempt `attempt + 1` when attempt `attempt` found every agent busy. */
export function busyRetryDelayMs(attempt: number): number {
  return Math.min(BUSY_RETRY_MAX_MS, 1000 * 2 ** (attempt - 1));
}

/** `err` with its retry paced by {@link busyRetryDelayMs} when it is an AgentsBusyError; else `err`. */
function paced(err: unknown): unknown {
  if (!(err instanceof ApplicationFailure) || err.type !== AgentsBusyError.type) return err;
  return retriedAs(err, err.type, { nextRetryDelay: busyRetryDelayMs(Context.current().info.attempt) });
}

/** Wraps every activity of `activities` so an AgentsBusyError is retried at the pace of waiting for capacity. */
export function paceBusyRetries<T extends Record<string, Activity>>(activities: T): T {
  return translateErrors(activities, paced);
}
