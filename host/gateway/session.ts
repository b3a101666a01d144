/**
 * One agent run's standing with the gateway: who it is, which upstreams and registries it may
 * reach, the token its process holds, and what it has spent against its budgets. The session
 * alone decides whether the run may still call a model; once it stops, it stays stopped.
 */
import { activeTraceContext } from '../tracing';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { GatewayBudgets, GatewayUpstream } from '../../domain/agent';
import type { ModelUsage } from '../../domain/model-usage';

/** Whose traffic a session carries; recorded on every call and refusal. */
export interface SessionIdentity {
  tenantId: string;
  taskId: string;
  runId: string;
  agentId: string;
  /** `agent` for a command agent, `conversation` for the openai loop, `setup` for a policy's setup. */
  purpose: 'agent' | 'conversation' | 'setup';
}

/** What a session may do. */
export interface SessionGrant {
  upstreams: GatewayUpstream[];
  /** `host:port` pairs the proxy may reach (package registries); none for an agent. */
  registries: string[];
  budgets: GatewayBudgets;
  /** Epoch milliseconds the wall-clock budget runs from: a retry's is its first attempt's start. */
  startedAt?: number;
}

/** What earlier sessions of the same run already spent (a retried activity does not start afresh). */
export interface Spent {
  tokens: number;
  costUsd: number;
}

/**
 * Calls one session may have in flight. Why a cap: a call is charged only when it ends, so each
 * one running at once can overrun the budgets, and each holds its request body in memory;
 * pipelining on one connection would otherwise start as many as the agent writes.
 */
export const MAX_CALLS_IN_FLIGHT = 8;

/**
 * Request bytes one session's calls may hold at once. Each call holds its body, its parsed
 * document and the body re-serialised while the upstream answers: eight calls of 32 MiB each
 * held about a gigabyte of the worker's memory for as long as the agent kept them waiting.
 */
export const MAX_REQUEST_BYTES_IN_FLIGHT = 64 * 1024 * 1024;

/**
 * Refusals a session records one row each. Each is a write to PostgreSQL the agent causes for
 * free, as fast as it can send requests; past these the rest are counted, and recorded as one row
 * when the session closes.
 */
export const MAX_RECORDED_REFUSALS = 1000;

/** A live session. */
export class GatewaySession {
  readonly id = randomUUID();
  /** Handed to the agent as its API key; worthless anywhere but this gateway, for this run. */
  readonly token = `arbiter-${randomBytes(24).toString('base64url')}`;
  /** The trace of the activity that opened it: its model calls are spans of that activity. */
  readonly traceContext = activeTraceContext();
  private readonly deadline: number | undefined;
  private stopped: string | undefined;
  private closedFor: string | undefined;
  private readonly ending = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private refusals = 0;
  private bytesHeld = 0;

  constructor(
    readonly identity: SessionIdentity,
    readonly grant: SessionGrant,
    private readonly spent: Spent,
    openedAt = grant.startedAt ?? Date.now(),
  ) {
    const seconds = grant.budgets.maxWallClockSeconds;
    this.deadline = seconds ? openedAt + seconds * 1000 : undefined;
    this.checkBudgets();
  }

  /** Why the run may make no more calls, or undefined while it may. */
  get stopReason(): string | undefined {
    if (!this.stopped && this.deadline !== undefined && Date.now() > this.deadline)
      this.stopped = `wall-clock budget exceeded: ${this.grant.budgets.maxWallClockSeconds} s`;
    return this.stopped ?? this.closedFor;
  }

  /**
   * Why the session stopped other than by closing: a budget crossed (also by the calls charged as
   * it closed, which an agent ending its run with calls in flight leaves to then) or a caller's stop.
   */
  get stoppedFor(): string | undefined {
    return this.stopped;
  }

  /** Totals so far, for the record. */
  get totals(): Spent {
    return { ...this.spent };
  }

  /** True when `presented` is this session's token (constant time). */
  tokenMatches(presented: string | undefined): boolean {
    if (!presented) return false;
    const a = createHash('sha256').update(presented).digest();
    const b = createHash('sha256').update(this.token).digest();
    return timingSafeEqual(a, b);
  }

  /** The upstream granted under `name`. */
  upstream(name: string): GatewayUpstream | undefined {
    return this.grant.upstreams.find((u) => u.name === name);
  }

  /** True when the proxy may open `hostPort` for this session. */
  allowsRegistry(hostPort: string): boolean {
    return this.grant.registries.includes(hostPort.toLowerCase());
  }

  /** Adds a finished call's usage; the call that crosses a budget stops the session. */
  charge(usage: ModelUsage, costUsd: number): void {
    this.spent.tokens += usage.inputTokens + usage.outputTokens;
    this.spent.costUsd += costUsd;
    this.checkBudgets();
  }

  /** Stops the session for a reason of the caller's (the run ended). */
  stop(reason: string): void {
    this.stopped ??= reason;
  }

  /**
   * Aborted when the session closes. A call outlives its client until then: an agent that drops
   * a stream before its usage arrives must not be spared the charge.
   */
  get closing(): AbortSignal {
    return this.ending.signal;
  }

  /** Counts a refusal: true while it is to be recorded by itself ({@link MAX_RECORDED_REFUSALS}). */
  countRefusal(): boolean {
    this.refusals += 1;
    return this.refusals <= MAX_RECORDED_REFUSALS;
  }

  /** Refusals counted past those recorded one by one, and not taken before; the count starts again from here. */
  takeUnrecordedRefusals(): number {
    const unrecorded = Math.max(0, this.refusals - MAX_RECORDED_REFUSALS);
    this.refusals -= unrecorded;
    return unrecorded;
  }

  /** Holds `bytes` more of request bodies: false, holding none, past {@link MAX_REQUEST_BYTES_IN_FLIGHT}. */
  holdBytes(bytes: number): boolean {
    if (this.bytesHeld + bytes > MAX_REQUEST_BYTES_IN_FLIGHT) return false;
    this.bytesHeld += bytes;
    return true;
  }

  /** Lets go of bytes {@link holdBytes} held. */
  releaseBytes(bytes: number): void {
    this.bytesHeld -= bytes;
  }

  /** Runs `call` as one of the session's calls in flight; false, without running it, when it has its fill. */
  admit(call: () => Promise<void>): Promise<void> | false {
    if (this.inFlight.size >= MAX_CALLS_IN_FLIGHT) return false;
    const running = call().finally(() => this.inFlight.delete(running));
    this.inFlight.add(running);
    return running;
  }

  /** Stops the session, ends its calls in flight and waits until each is recorded. */
  async close(reason: string): Promise<void> {
    this.closedFor ??= reason;
    this.ending.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  private checkBudgets(): void {
    const { maxTokens, maxCostUsd } = this.grant.budgets;
    if (maxTokens !== undefined && this.spent.tokens > maxTokens)
      this.stopped ??= `token budget exceeded: ${this.spent.tokens} of ${maxTokens} tokens used`;
    if (maxCostUsd !== undefined && this.spent.costUsd > maxCostUsd)
      this.stopped ??= `cost budget exceeded: $${this.spent.costUsd.toFixed(4)} of $${maxCostUsd} spent`;
  }
}
