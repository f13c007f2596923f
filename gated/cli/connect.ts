// `warren connect <tenant>`: the stdio bridge an MCP client launches; `--print-config` prints the client config for it.
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, UsageError, type CommonOptions, type Command } from '../../core/command.js';
import { parseTenantPath, tenantId, type TenantPath } from '../../core/tenant-path.js';
import { bridge } from '../bridge.js';
import { tenantSocketPath } from '../broker.js';

/**
 * An MCP client config (`mcpServers` form) that launches this very warren by absolute paths: node, the real path of
 * warren.js and the data folder. Never `npx warren`, which outside the checkout asks the registry for a package
 * named `warren` and runs whatever is published under that name.
 */
export function clientConfig(target: { tenant: TenantPath } | { socket: string }, common: CommonOptions): object {
  const warrenJs = realpathSync(fileURLToPath(new URL('../../cli/warren.js', import.meta.url)));
  const [name, args] =
    'tenant' in target
      ? [`warren-${tenantId(target.tenant)}`, ['connect', target.tenant, '--data', common.data]]
      : ['warren', ['connect', '--socket', resolve(target.socket)]];
  return { mcpServers: { [name]: { command: process.execPath, args: [warrenJs, ...args] } } };
}

const command: Command = {
  summary: "bridge stdio to a tenant's gated socket (what MCP clients launch)",
  usage: `Usage: warren connect <tenant> [--data DIR] [--socket PATH]
       warren connect --print-config <tenant> [--data DIR]

Connects standard input/output to the tenant's gated socket (DATA/ipc/<tenant id>/gated.sock). MCP clients launch
it by absolute paths; --print-config prints a ready-to-paste client config ("mcpServers" form), e.g.
  { "mcpServers": { "warren-acme.support": { "command": "/usr/bin/node",
      "args": ["/srv/warren/dist/cli/warren.js", "connect", "acme/support", "--data", "/srv/warren/data"] } } }
Do not use "npx warren" there: outside the checkout npx looks the name up in the package registry.`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { socket: { type: 'string' }, 'print-config': { type: 'boolean' } });
    if (values.socket !== undefined ? positionals.length !== 0 : positionals.length !== 1) {
      throw new UsageError('give exactly one tenant (or --socket PATH)');
    }
    const target = values.socket !== undefined ? { socket: values.socket } : { tenant: parseTenantPath(positionals[0]!) };
    if (values['print-config']) {
      process.stdout.write(JSON.stringify(clientConfig(target, common), null, 2) + '\n');
      return 0;
    }
    const socketPath = values.socket ?? tenantSocketPath(common.data, parseTenantPath(positionals[0]!));
    return bridge(socketPath, { stdin: process.stdin, stdout: process.stdout });
  },
};
export default command;
