/**
 * A model endpoint's base URL, read one way everywhere: the registration's rule, the key rules and
 * the network guard. The gateway appends the agent's path to it, so a query, fragment,
 * credentials or backslash would make the call another endpoint than the one the URL names: a `?`
 * at the end turned the appended path into query text, and any path of the host the agent's.
 */

/** Whether `url` is a plain http(s) URL, without a query, fragment, credentials or backslash. */
export function plainUpstreamUrl(url: string): boolean {
  return /^https?:\/\//i.test(url) && !/[?#@\\]/.test(url);
}

/** The port a call to `url` connects to: the one it names, or its scheme's. */
export function portOf(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}
