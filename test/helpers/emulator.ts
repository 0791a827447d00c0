import { auth as googleAuth, gmail as gmailApi } from '@googleapis/gmail';
import { DEFAULT_CLIENT, type RunningEmulator } from '../../src/emulator/server.js';

/** The unmodified googleapis client with a real OAuth2 refresh-token flow against the emulator. */
export function gmailClient(emu: RunningEmulator, refreshToken = DEFAULT_CLIENT.refreshToken) {
  const auth = new googleAuth.OAuth2({
    clientId: DEFAULT_CLIENT.clientId,
    clientSecret: DEFAULT_CLIENT.clientSecret,
    endpoints: { oauth2TokenUrl: emu.tokenUrl },
    forceRefreshOnFailure: true,
  });
  auth.setCredentials({ refresh_token: refreshToken });
  return { auth, gmail: gmailApi({ version: 'v1', auth, rootUrl: emu.url, retry: false }) };
}

/** Calls one of the emulator's control endpoints (`/_emulator/<path>`). */
export async function control(emu: RunningEmulator, method: string, path: string, body?: unknown) {
  const res = await fetch(`${emu.url}_emulator/${path}`, { method, body: body ? JSON.stringify(body) : undefined });
  return (await res.json()) as Record<string, unknown>;
}

/** Per-method counters of served, throttled and faulted requests, from the control endpoint `stats`. */
export async function emulatorStats(emu: RunningEmulator): Promise<Record<string, { served: number; throttled: number; faults: number }>> {
  return (await control(emu, 'GET', 'stats')).methods as Record<string, { served: number; throttled: number; faults: number }>;
}
