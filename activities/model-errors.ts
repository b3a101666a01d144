/**
 * How a model endpoint's refusal is read: whose fault it is decides whether it counts against
 * this run (a FAIL) or against the agent's health, its circuit for all of the tenant's tasks.
 */

/**
 * True when the model refused the request for its length: that is this conversation's doing (the
 * files its model chose to read, the task's prompt), a FAIL of this run, not a fault in the agent's
 * configuration, which would count against its health for all of the tenant's tasks. Judged from the
 * error's own code and the start of its message (an endpoint that echoes the request must not let
 * the request's text decide); a `max_tokens` past the context is the configuration's fault.
 */
function outgrewContext(status: number, body: string): boolean {
  if (status === 413) return true;
  if (status !== 400) return false;
  const error = parsedError(body);
  if (error.code === 'context_length_exceeded') return true;
  const message = error.message.slice(0, 300);
  return (
    /^(this model's maximum context length|prompt is too long|the prompt is too long|.{0,80}exceeds the (available )?context (size|window))/i.test(
      message,
    ) && !/max_tokens|max_completion_tokens/i.test(message)
  );
}

/**
 * Error codes of a request refused for what its text says: Azure OpenAI's content filter, OpenAI's
 * flagged prompt. The text is the task's and its conversation's, so the refusal is this run's.
 */
const CONTENT_REFUSALS = new Set(['content_filter', 'content_policy_violation', 'invalid_prompt']);

/**
 * True when a refusal is this run's doing, not the agent's configuration's: the conversation
 * outgrew the model's context, or the endpoint refused its content. A spec's wording that an
 * endpoint's filter refuses would otherwise open the agent's circuit for all of the tenant's tasks.
 */
export function runsOwnRefusal(status: number, body: string): boolean {
  if (outgrewContext(status, body)) return true;
  const { code } = parsedError(body);
  return status === 400 && code !== undefined && CONTENT_REFUSALS.has(code);
}

/** The `error` object of an OpenAI-style error body, as far as it has one. */
function parsedError(body: string): { code?: string; message: string } {
  try {
    const { error } = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    return {
      code: typeof error?.code === 'string' ? error.code : undefined,
      message: typeof error?.message === 'string' ? error.message : '',
    };
  } catch {
    return { message: '' };
  }
}
