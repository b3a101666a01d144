/**
 * Connection options for a local dev server, a self-hosted cluster with mTLS, or Temporal
 * Cloud with an API key, built in one place for the worker and the client alike.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { idPartProblem } from './index';

/** Where and how to reach Temporal. */
export interface TemporalProfile {
  address: string;
  namespace: string;
  tls: boolean;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  apiKey?: string;
  /**
   * The namespace of each tenant (ARBITER_TENANT_NAMESPACES). Empty: every tenant in `namespace`.
   * Set: a tenant it does not name has no namespace, so its tasks are refused rather than
   * landing beside another tenant's.
   */
  tenantNamespaces?: Record<string, string>;
}

const NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;

/** `acme=acme-ns,beta=beta-ns` into `{ acme: 'acme-ns', beta: 'beta-ns' }`, each tenant once. */
export const TenantNamespacesSchema = z.string().transform((text, ctx) => {
  const map: Record<string, string> = {};
  for (const entry of text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [tenant, namespace, ...rest] = entry.split('=').map((p) => p.trim());
    const problem =
      rest.length || namespace === undefined
        ? 'expected TENANT=NAMESPACE'
        : (idPartProblem(tenant) && `tenant ${idPartProblem(tenant)}`) ||
          (!NAMESPACE.test(namespace) && 'namespace must be 2-255 letters, digits, . _ -') ||
          (tenant in map && 'tenant named twice');
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `'${entry}': ${problem}` });
    else map[tenant] = namespace;
  }
  return map;
});

/** The Temporal namespace that serves `tenantId`, or undefined when the mapping names other tenants only. */
export function namespaceForTenant(
  profile: Pick<TemporalProfile, 'namespace' | 'tenantNamespaces'>,
  tenantId: string,
): string | undefined {
  const map = profile.tenantNamespaces ?? {};
  if (Object.keys(map).length === 0) return profile.namespace;
  return Object.hasOwn(map, tenantId) ? map[tenantId] : undefined;
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
  ARBITER_TENANT_NAMESPACES: TenantNamespacesSchema.optional(),
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
    tenantNamespaces: e.ARBITER_TENANT_NAMESPACES ?? {},
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
