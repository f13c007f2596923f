// `warren connect <tenant>`: the stdio bridge an MCP client launches.
import { parse, UsageError, type Command } from '../../core/command.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { bridge } from '../bridge.js';
import { tenantSocketPath } from '../broker.js';

const command: Command = {
  summary: "bridge stdio to a tenant's gated socket (what MCP clients launch)",
  usage: `Usage: warren connect <tenant> [--data DIR] [--socket PATH]

Connects standard input/output to the tenant's gated socket, e.g. in an MCP client config:
  { "command": "npx", "args": ["warren", "connect", "acme/support"] }`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { socket: { type: 'string' } });
    let socketPath = values.socket;
    if (!socketPath) {
      if (positionals.length !== 1) throw new UsageError('give exactly one tenant (or --socket PATH)');
      socketPath = tenantSocketPath(common.data, parseTenantPath(positionals[0]!));
    }
    return bridge(socketPath, { stdin: process.stdin, stdout: process.stdout });
  },
};
export default command;
