// A tenant or chat named in a tool argument, canonicalised exactly as grant rules see it.
import { canonicalChat, canonicalTenantArg, chatIdProblem } from '../../core/grants/canonical.js';
import { ToolError } from './tool.js';
import { isTenantPath, type TenantPath } from '../../core/tenant-path.js';

export function canonicalTenant(raw: string): TenantPath | null {
  const path = canonicalTenantArg(raw);
  return path !== null && isTenantPath(path) ? path : null;
}

/** The canonical chat id of an argument, or a ToolError saying which part of the chat-id rule it breaks. */
export function requireChat(raw: string): string {
  const chat = canonicalChat(raw);
  if (chat === null) throw new ToolError(`"${raw}" is not a valid chat id: it ${chatIdProblem(raw) ?? 'is invalid'}`);
  return chat;
}
