/**
 * Connection options for a local dev server, a self-hosted cluster with mTLS, or Temporal
 * Cloud with an API key, built in one place for the worker and the client alike.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Where and how to reach Temporal. */
export interface TemporalProfile {
  address: string;
  namespace: string;
  tls: boolean;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  apiKey?: string;
}

/** `VAR=` means unset, as in most tools; zod then applies the default. */
export function withoutEmptyValues(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

/** The TEMPORAL_* variables every Arbiter process reads, the same way everywhere. */
export const TemporalEnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TLS: z.enum(['true', 'false', '1', '0']).optional(),
  TEMPORAL_TLS_CERT: z.string().optional(),
  TEMPORAL_TLS_KEY: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
});

/** The profile the parsed variables describe; an API key implies TLS (Temporal Cloud). */
export function temporalProfileFromEnv(
  e: z.output<typeof TemporalEnvSchema>,
  fallbackAddress: string,
): TemporalProfile {
  return {
    address: e.TEMPORAL_ADDRESS ?? fallbackAddress,
    namespace: e.TEMPORAL_NAMESPACE,
    tls: e.TEMPORAL_TLS === 'true' || e.TEMPORAL_TLS === '1' || Boolean(e.TEMPORAL_API_KEY),
    tlsCertPath: e.TEMPORAL_TLS_CERT,
    tlsKeyPath: e.TEMPORAL_TLS_KEY,
    apiKey: e.TEMPORAL_API_KEY,
  };
}

/** Options accepted by both `NativeConnection.connect` and `Connection.connect`. */
export function connectionOptions(profile: TemporalProfile): {
  address: string;
  tls?: boolean | { clientCertPair: { crt: Buffer; key: Buffer } };
  apiKey?: string;
} {
  const clientCertPair =
    profile.tlsCertPath && profile.tlsKeyPath
      ? { crt: readFileSync(profile.tlsCertPath), key: readFileSync(profile.tlsKeyPath) }
      : undefined;
  return {
    address: profile.address,
    tls: clientCertPair ? { clientCertPair } : profile.tls || undefined,
    apiKey: profile.apiKey,
  };
}
