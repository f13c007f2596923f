// The instance name of an installation: it labels containers and tenant networks and names firewall chains, so the
// gateway and a separately run crackbox (`warren crackbox run`) must derive it the same way from the same --data.
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';

/** A stable instance name derived from the data folder, so a restart recognises its own containers. */
export function defaultInstance(dataDir: string): string {
  let real = dataDir;
  try {
    real = realpathSync(dataDir);
  } catch {
    // not created yet: the path as given is stable enough
  }
  return `w${createHash('sha256').update(real).digest('hex').slice(0, 12)}`;
}

/** WARREN_INSTANCE when set, else the name derived from the data folder. */
export function instanceName(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.WARREN_INSTANCE ?? defaultInstance(dataDir);
}
