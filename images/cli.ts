// `warren images`: build the agent image (offline by default, or from images/agent/Dockerfile) and show its tag.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { UsageError, parse, type Command } from '../core/command.js';
import { CLAUDE_CODE_VERSION } from './claude-code.js';
import { agentImageTag, buildAgentImage, packageRoot, warrenVersion } from './build.js';
import { buildCrackboxImage, crackboxImageTag } from './crackbox.js';

const usage = `Usage: warren images build [--tag T] [--with-claude-code]
       warren images build --dockerfile [--tag T]
       warren images build --crackbox [--tag T]
       warren images tag [--crackbox]

build   Build the agent image. By default OFFLINE: a root filesystem assembled from this host's node binary and
        its libraries, imported with "docker import" (no registry needed).
          --with-claude-code  also install @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} (needs the npm registry)
          --dockerfile        use images/agent/Dockerfile instead (needs a registry for node:20-slim)
          --crackbox          build the crackbox image of the Swarm egress instead (offline; docs/egress.md)
          --tag T             image reference (default: ${'warren/agent:<version>'}, ${'warren/crackbox:<version>'})
tag     Print the image tag the gateway runs (--crackbox: the Swarm egress's crackbox image).`;

function dockerBuild(tag: string): Promise<number> {
  const context = join(packageRoot(), 'images', 'agent');
  const args = ['build', '-f', join(context, 'Dockerfile'), '-t', tag, '--build-arg', `WARREN_VERSION=${warrenVersion()}`, context];
  process.stderr.write(`warren images: docker ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 2, 2] });
    child.on('error', (e) => reject(new Error(`cannot run docker: ${e.message}`)));
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

const command: Command = {
  summary: 'build the agent container image (offline by default) or show its tag',
  usage,
  async run(argv) {
    const { values, positionals } = parse(argv, {
      tag: { type: 'string' },
      dockerfile: { type: 'boolean' },
      'with-claude-code': { type: 'boolean' },
      crackbox: { type: 'boolean' },
    });
    const [sub, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (sub === 'tag') {
      process.stdout.write((values.crackbox ? crackboxImageTag() : agentImageTag()) + '\n');
      return 0;
    }
    if (sub !== 'build') throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'missing subcommand');
    if (values.crackbox) {
      if (values.dockerfile || values['with-claude-code']) throw new UsageError('--crackbox takes only --tag');
      const result = await buildCrackboxImage({ tag: values.tag, progress: (m) => process.stderr.write(`warren images: ${m}\n`) });
      process.stdout.write(`${result.tag} ${result.id}\n`);
      return 0;
    }
    const tag = values.tag ?? agentImageTag();
    if (values.dockerfile) {
      if (values['with-claude-code']) throw new UsageError('--dockerfile always installs Claude Code; drop --with-claude-code');
      const code = await dockerBuild(tag);
      if (code === 0) process.stdout.write(tag + '\n');
      return code;
    }
    const result = await buildAgentImage({
      tag,
      withClaudeCode: values['with-claude-code'] === true,
      progress: (m) => process.stderr.write(`warren images: ${m}\n`),
    });
    process.stdout.write(`${result.tag} ${result.id}\n`);
    return 0;
  },
};

export default command;
