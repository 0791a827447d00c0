import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

/**
 * How every process reaches Temporal beyond its address: TLS (a private CA, mutual TLS), an API key (Temporal Cloud)
 * and gRPC metadata, read by the SDK's own `@temporalio/envconfig` — the TEMPORAL_TLS*, TEMPORAL_API_KEY and
 * TEMPORAL_GRPC_META_* variables and, when present, a profile of `temporal.toml` (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE),
 * as the `temporal` CLI reads them. The address and namespace stay TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE.
 */
export type TemporalConnection = Pick<NativeConnectionOptions, 'tls' | 'apiKey' | 'metadata'>;

/** The connection settings of `env` (certificate files are read here). */
export function temporalConnection(env: Record<string, string | undefined>): TemporalConnection {
  const defined = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
  const { tls, apiKey, metadata } = loadClientConnectConfig({ overrideEnvVars: defined }).connectionOptions;
  return {
    ...(tls !== undefined ? { tls } : {}),
    ...(typeof apiKey === 'string' ? { apiKey } : {}),
    ...(metadata && Object.keys(metadata).length ? { metadata } : {}),
  };
}

/** The secrets among them, for the redactor: the API key, the client key and each of its lines. */
export function connectionSecrets(c: TemporalConnection): string[] {
  const key = typeof c.tls === 'object' && c.tls ? c.tls.clientCertPair?.key.toString() : undefined;
  const lines = key?.split('\n').filter((l) => l.length >= 32 && !l.startsWith('-----')) ?? [];
  return [typeof c.apiKey === 'string' ? c.apiKey : undefined, key, ...lines].filter((s): s is string => !!s);
}
