// What the tenant tree loader produces for each tenant folder.
import type { ConfigError } from '../config-error.js';
import type { Rule } from '../grants/types.js';
import type { AllowlistEntry } from '../allowlist.js';
import type { Tier, TenantPath } from '../tenant-path.js';
import type { Persona } from './persona.js';
import type { Skill } from './skill.js';

export type { Skill } from './skill.js';

export interface TenantConfig {
  path: TenantPath;
  tier: Tier;
  /** Absolute path of the tenant folder. */
  dir: string;
  persona: Persona;
  /** Rules from this tenant's own `grants` file (not tier defaults, not ancestors'). Missing file = no rules. */
  grants: Rule[];
  /** Entries of this tenant's own `allowlist` file. Missing file = no entries. */
  allowlist: AllowlistEntry[];
  skills: Skill[];
}

/** The state of one tenant as the registry keeps it. */
export interface TenantState {
  path: TenantPath;
  /**
   * The configuration made of each file's contents that count: its current contents when they parse, else the last
   * contents of it that parsed (see last-good.ts). Null when a present file never parsed (then it gets no socket).
   */
  config: TenantConfig | null;
  /** Problems with the current files; empty when the current files are good. */
  errors: ConfigError[];
}
