import type { ManagedConnection } from '../managers/managed-connection.js';
import type { ProbeReport } from './cleanup-report.js';

/**
 * The admission-time liveness probe: pings every open connection not heard from within
 * `timeoutMs`, waits up to `timeoutMs` for the pongs (less when all answer) and marks the silent
 * ones `probeFailed`, which the health assessment reports as unresponsive.
 */
export async function probeConnections(connections: Iterable<ManagedConnection>, timeoutMs: number): Promise<ProbeReport> {
  const started = Date.now();
  const probes: Promise<void>[] = [];
  let unresponsive = 0;
  for (const connection of connections) {
    if (!connection.isOpen || started - connection.lastHeardAt < timeoutMs) continue;
    const answered = connection.waitForPong(timeoutMs);
    if (!connection.ping(started)) continue;
    probes.push(
      answered.then((ok) => {
        if (ok || !connection.isOpen) return;
        connection.probeFailed = true;
        unresponsive++;
      }),
    );
  }
  await Promise.all(probes);
  return { probed: probes.length, unresponsive, waitedMs: probes.length > 0 ? Date.now() - started : 0 };
}
