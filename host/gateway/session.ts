/**
 * One agent run's standing with the gateway: who it is, which upstreams and registries it may
 * reach, the token its process holds, and what it has spent against its budgets. The session
 * alone decides whether the run may still call a model; once it stops, it stays stopped.
 */
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
}

/** What earlier sessions of the same run already spent (a retried activity does not start afresh). */
export interface Spent {
  tokens: number;
  costUsd: number;
}

/** A live session. */
export class GatewaySession {
  readonly id = randomUUID();
  /** Handed to the agent as its API key; worthless anywhere but this gateway, for this run. */
  readonly token = `arbiter-${randomBytes(24).toString('base64url')}`;
  private readonly deadline: number | undefined;
  private stopped: string | undefined;

  constructor(
    readonly identity: SessionIdentity,
    readonly grant: SessionGrant,
    private readonly spent: Spent,
    openedAt = Date.now(),
  ) {
    const seconds = grant.budgets.maxWallClockSeconds;
    this.deadline = seconds ? openedAt + seconds * 1000 : undefined;
    this.checkBudgets();
  }

  /** Why the run may make no more calls, or undefined while it may. */
  get stopReason(): string | undefined {
    if (!this.stopped && this.deadline !== undefined && Date.now() > this.deadline)
      this.stopped = `wall-clock budget exceeded: ${this.grant.budgets.maxWallClockSeconds} s`;
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

  private checkBudgets(): void {
    const { maxTokens, maxCostUsd } = this.grant.budgets;
    if (maxTokens !== undefined && this.spent.tokens > maxTokens)
      this.stopped ??= `token budget exceeded: ${this.spent.tokens} of ${maxTokens} tokens used`;
    if (maxCostUsd !== undefined && this.spent.costUsd > maxCostUsd)
      this.stopped ??= `cost budget exceeded: $${this.spent.costUsd.toFixed(4)} of $${maxCostUsd} spent`;
  }
}
