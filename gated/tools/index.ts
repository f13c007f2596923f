// Every tool gated serves, by name. The grant engine's ALL_TOOLS must name exactly these (a test pins it).
import { delegationTools } from './delegation.js';
import { grantTools } from './grant.js';
import { groupTools } from './groups.js';
import { messagingTools } from './messaging.js';
import { observeTools } from './observe.js';
import { routeTools } from './routes.js';
import { tokenTools } from './tokens.js';
import { topicTools } from './topics.js';
import { vhostTools } from './vhosts.js';
import { workerTools } from './workers.js';
import type { ToolDef } from './tool.js';

export const TOOLS: readonly ToolDef[] = [
  ...messagingTools,
  ...delegationTools,
  ...observeTools,
  ...topicTools,
  ...groupTools,
  ...tokenTools,
  ...routeTools,
  ...grantTools,
  ...vhostTools,
  ...workerTools,
];

export const TOOLS_BY_NAME: ReadonlyMap<string, ToolDef> = new Map(TOOLS.map((t) => [t.name, t]));
