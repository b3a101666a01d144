/**
 * Laying one concern over every activity (heartbeats, error translation): one way to do it, so
 * no step is left out and no wrapper is written twice.
 */

/** An activity function, as the factory builds them. */
export type Activity = (...args: never[]) => Promise<unknown>;

/** `activities` with each function replaced by `wrap(fn, its name)`. */
export function wrapEach<T extends Record<string, Activity>>(
  activities: T,
  wrap: (fn: Activity, name: string) => Activity,
): T {
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, wrap(fn, name)])) as T;
}

/** `activities` with every error they throw passed through `translate` first. */
export function translateErrors<T extends Record<string, Activity>>(
  activities: T,
  translate: (err: unknown) => unknown,
): T {
  return wrapEach(activities, (fn) => async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw translate(err);
    }
  });
}
