// A tenant's home/ is the folder its agent writes (mounted at /home/node), and web/ its published site for a tenant
// with PERSONA.md `web: true` (at /workspace/web). The gateway creates each on first use and hands it to the
// container user; one that is a symlink or not a folder is refused, never followed.
import { chownSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_GID, AGENT_UID } from '../core/container.js';
import { HOME_DIR, WEB_DIR } from '../core/tree/layout.js';

export function ensureHome(tenantDir: string): string {
  return ensureAgentFolder(tenantDir, HOME_DIR);
}

export function ensureWeb(tenantDir: string): string {
  return ensureAgentFolder(tenantDir, WEB_DIR);
}

function ensureAgentFolder(tenantDir: string, name: string): string {
  const home = join(tenantDir, name);
  try {
    const st = lstatSync(home);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`${home} must be a plain folder (not a link or a file)`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(home, { mode: 0o750 });
  }
  // Only root can give the folder to the container user; otherwise the operator must (documented).
  if (process.getuid?.() === 0) {
    const st = lstatSync(home);
    if (st.uid !== AGENT_UID) chownSync(home, AGENT_UID, AGENT_GID);
  }
  return home;
}
