// DATA/crackbox.json: what a running crackbox serves (its pid, ports and one listener per tenant network). Written
// by the running crackbox on every change; read by `warren crackbox status` and by `warren up` in external mode.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ListenerInfo {
  tenant: string;
  network: string;
  bridge: string;
  subnet: string;
  gateway: string;
}

export interface CrackboxStatus {
  pid: number;
  instance: string;
  startedAt: string;
  dnsPort: number;
  proxyPort: number;
  upstream: string;
  listeners: ListenerInfo[];
}

export function statusFilePath(dataDir: string): string {
  return join(dataDir, 'crackbox.json');
}

export function writeStatusFile(dataDir: string, status: CrackboxStatus): void {
  const file = statusFilePath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(status, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeStatusFile(dataDir: string): void {
  rmSync(statusFilePath(dataDir), { force: true });
}

/** The status file, or null when there is none or it cannot be read (never throws). */
export function readStatusFile(dataDir: string): CrackboxStatus | null {
  try {
    const parsed = JSON.parse(readFileSync(statusFilePath(dataDir), 'utf8')) as CrackboxStatus;
    return typeof parsed.pid === 'number' && Array.isArray(parsed.listeners) ? parsed : null;
  } catch {
    return null;
  }
}

/** Is a process with this pid alive (on this host)? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
