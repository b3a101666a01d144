/**
 * Connection options for a local dev server, a self-hosted cluster with mTLS, or Temporal
 * Cloud with an API key, built in one place for the worker and the client alike.
 */
import { readFileSync } from 'node:fs';

/** Where and how to reach Temporal. */
export interface TemporalProfile {
  address: string;
  namespace: string;
  tls: boolean;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  apiKey?: string;
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
