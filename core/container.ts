// The layout of every agent container, in one place: the user agents run as, where each mount lands, and the labels
// warren finds its containers and networks by. The gateway builds containers to it, the image builder creates the
// folders it mounts onto, the runner looks for its socket and persona here and crackbox labels tenant networks with
// it, so the four can never disagree. docs/containers.md explains each choice.
import { PERSONA_FILE, SKILLS_DIR } from './tree/layout.js';

/** The unprivileged user agents run as (the image's `node` user); homes and run sockets are handed to it. */
export const AGENT_UID = 1000;
export const AGENT_GID = 1000;
export const AGENT_USER = `${AGENT_UID}:${AGENT_GID}`;

const HOME = '/home/node';
const SOCKET_DIR = '/run/gated';
const RUNNER_DIR = '/opt/warren';
const CONFIG_DIR = '/etc/warren';

/** Where things are inside an agent container. */
export const CONTAINER_PATHS = {
  /** The tenant's home/ folder: the one writable mount, and the agent's working directory. */
  home: HOME,
  /** The tenant's web/ folder (PERSONA.md `web: true`): its published site, writable (docs/web.md). */
  web: '/workspace/web',
  /** A worker's own scratch folder (writable) and working directory; a worker's home is read-only. */
  scratch: '/workspace/scratch',
  /** A worker's brief, read-only. */
  brief: '/workspace/brief.md',
  /** Holds the run's gated socket. */
  socketDir: SOCKET_DIR,
  socket: `${SOCKET_DIR}/gated.sock`,
  /** The compiled runner folder (dist/agent on the host), read-only. */
  runnerDir: RUNNER_DIR,
  runner: `${RUNNER_DIR}/runner/main.js`,
  /** The tenant's operator files the agent may read, read-only. */
  configDir: CONFIG_DIR,
  persona: `${CONFIG_DIR}/${PERSONA_FILE}`,
  skills: `${CONFIG_DIR}/${SKILLS_DIR}`,
  /**
   * The same skills again where Claude Code looks for them: `<dir>/.claude/skills` of an `--add-dir` directory. Claude
   * Code's own skill loading then sees exactly the skills warren lists (read-only).
   */
  claudeSkillsRoot: `${CONFIG_DIR}/claude`,
  claudeSkills: `${CONFIG_DIR}/claude/.claude/${SKILLS_DIR}`,
  /** warren's built-in skills, shipped in the runner folder, laid out for `--add-dir` the same way. */
  builtinSkillsRoot: `${RUNNER_DIR}/builtin-skills`,
  builtinSkills: `${RUNNER_DIR}/builtin-skills/.claude/${SKILLS_DIR}`,
} as const;

/** Docker labels on every container and tenant network warren creates; `instance` keeps installations apart. */
export const LABELS = {
  instance: 'warren.instance',
  tenant: 'warren.tenant',
  run: 'warren.run',
} as const;
