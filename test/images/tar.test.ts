import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  createWriteStream,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import { checkOwnership, MAX_ID, tarDirectory, type OwnershipRule } from '../../images/tar.js';
import { imageOwnership } from '../../images/build.js';

interface ReadEntry {
  header: Header;
  body: Buffer;
}

/** Reads an archive back with tar-stream's own parser: what `docker import` will see, entry by entry. */
async function readArchive(archive: AsyncIterable<Buffer> | Buffer): Promise<ReadEntry[]> {
  const ex = extract();
  const source = Readable.from(Buffer.isBuffer(archive) ? [archive] : archive);
  source.on('data', (chunk: Buffer) => ex.write(chunk));
  source.on('end', () => ex.end(undefined));
  source.on('error', (err: Error) => ex.destroy(err));
  const out: ReadEntry[] = [];
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    out.push({ header: entry.header, body: Buffer.concat(chunks) });
  }
  return out;
}

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of gen) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const homeRule: OwnershipRule = (p, st) =>
  p === 'home/node' || p.startsWith('home/node/')
    ? { uid: 1000, gid: 1000, mode: st.mode & 0o7777 }
    : { uid: 0, gid: 0, mode: st.mode & 0o7777 };

describe('tarDirectory', () => {
  let dir: string;
  let src: string;
  let archive: Buffer;
  let entries: ReadEntry[];
  const byName = (name: string) => {
    const e = entries.find((x) => x.header.name === name);
    if (!e) throw new Error(`no entry ${name} in ${entries.map((x) => x.header.name).join(', ')}`);
    return e;
  };
  const longFile = `deep/${'n'.repeat(110)}.txt`; // > 100 bytes, a single component: needs PAX, not ustar prefix
  const longTarget = `../${'t'.repeat(120)}`; // symlink target > 100 bytes: needs a PAX linkpath
  const big = Buffer.alloc(200_000); // several reads' worth, not a multiple of 512
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-'));
    src = join(dir, 'src');
    mkdirSync(join(src, 'home/node/sub'), { recursive: true });
    mkdirSync(join(src, 'deep'));
    mkdirSync(join(src, 'tmp'));
    chmodSync(join(src, 'tmp'), 0o1777);
    writeFileSync(join(src, 'home/node/sub/file.txt'), 'agent data\n');
    writeFileSync(join(src, 'big.bin'), big);
    linkSync(join(src, 'big.bin'), join(src, 'big-link.bin'));
    symlinkSync('big.bin', join(src, 'sym'));
    symlinkSync(longTarget, join(src, 'long-sym'));
    writeFileSync(join(src, longFile), 'long name');
    writeFileSync(join(src, 'secret'), 'x');
    chmodSync(join(src, 'secret'), 0o000);
    writeFileSync(join(src, 'tool'), '#!/bin/sh\n');
    chmodSync(join(src, 'tool'), 0o4755);
    writeFileSync(join(src, 'empty'), '');
    archive = await collect(tarDirectory(src, homeRule));
    entries = await readArchive(archive);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('archives every entry once, depth-first in sorted order', () => {
    expect(entries.map((e) => e.header.name)).toEqual([
      'big-link.bin',
      'big.bin',
      'deep/',
      longFile,
      'empty',
      'home/',
      'home/node/',
      'home/node/sub/',
      'home/node/sub/file.txt',
      'long-sym',
      'secret',
      'sym',
      'tmp/',
      'tool',
    ]);
  });

  it('is byte-for-byte the same archive when the tree has not changed', async () => {
    expect((await collect(tarDirectory(src, homeRule))).equals(archive)).toBe(true);
  });

  it('gives each entry the type and content of what is on disk', () => {
    expect(byName('deep/').header.type).toBe('directory');
    expect(byName('home/node/sub/file.txt').header.type).toBe('file');
    expect(byName('home/node/sub/file.txt').body.toString()).toBe('agent data\n');
    expect(byName(longFile).body.toString()).toBe('long name');
    expect(byName('empty').header.type).toBe('file');
    expect(byName('empty').body.length).toBe(0);
    expect(byName('sym').header).toMatchObject({ type: 'symlink', linkname: 'big.bin', size: 0 });
    expect(byName('long-sym').header).toMatchObject({ type: 'symlink', linkname: longTarget });
  });

  it('stores hard-linked content once: the first name carries it, later names link to it', () => {
    const first = byName('big-link.bin'); // sorted first
    expect(first.header).toMatchObject({ type: 'file', size: big.length });
    expect(first.body.equals(big)).toBe(true);
    expect(byName('big.bin').header).toMatchObject({ type: 'link', linkname: 'big-link.bin', size: 0 });
    expect(byName('big.bin').body.length).toBe(0);
    expect(archive.length).toBeLessThan(big.length * 2);
  });

  it('takes owner and mode from the rule, including setuid, sticky and 000', () => {
    expect(byName('home/node/').header).toMatchObject({ uid: 1000, gid: 1000 });
    expect(byName('home/node/sub/file.txt').header).toMatchObject({ uid: 1000, gid: 1000 });
    expect(byName('home/').header).toMatchObject({ uid: 0, gid: 0 });
    expect(byName('big-link.bin').header).toMatchObject({ uid: 0, gid: 0 });
    expect(byName('tmp/').header.mode).toBe(0o1777);
    expect(byName('tool').header.mode).toBe(0o4755);
    expect(byName('secret').header.mode).toBe(0o000);
    const onDisk = statSync(join(src, 'home/node/sub/file.txt')).mode & 0o7777;
    expect(byName('home/node/sub/file.txt').header.mode).toBe(onDisk);
  });

  it('applies what the rule decides, not what the disk says', async () => {
    const rule: OwnershipRule = (p) => ({ uid: 4242, gid: 77, mode: p === 'tool' ? 0o700 : 0o640 });
    const got = await readArchive(tarDirectory(src, rule));
    for (const e of got) expect(e.header).toMatchObject({ uid: 4242, gid: 77 });
    expect(got.find((e) => e.header.name === 'tool')?.header.mode).toBe(0o700);
    expect(got.find((e) => e.header.name === 'deep/')?.header.mode).toBe(0o640);
  });

  it('with the image rule, only /home/node belongs to the agent', async () => {
    const got = await readArchive(tarDirectory(src, imageOwnership));
    const agent = got.filter((e) => e.header.uid === 1000).map((e) => e.header.name);
    expect(agent).toEqual(['home/node/', 'home/node/sub/', 'home/node/sub/file.txt']);
    expect(got.filter((e) => e.header.uid !== 1000).every((e) => e.header.uid === 0 && e.header.gid === 0)).toBe(true);
  });

  it('is read the same way by GNU tar, which recreates the hard link', () => {
    const tarFile = join(dir, 'out.tar');
    writeFileSync(tarFile, archive);
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', tarFile], { encoding: 'utf8' });
    expect(listing).toMatch(/^h.* big\.bin link to big-link\.bin$/m);
    expect(listing).toContain(longFile);
    const out = join(dir, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xf', tarFile, '-C', out]);
    expect(statSync(join(out, 'big-link.bin')).ino).toBe(statSync(join(out, 'big.bin')).ino);
    expect(readFileSync(join(out, 'big.bin')).equals(big)).toBe(true);
    expect(readFileSync(join(out, longFile), 'utf8')).toBe('long name');
  });

  // 1 chunk: stopped before the walk starts the file; 2-3 chunks: stopped in the middle of big-link.bin's content.
  it.each([1, 2, 3])('streams: a reader that stops after %i chunk(s) ends the walk, no error, no hang', async (n) => {
    const gen = tarDirectory(src, homeRule);
    for (let i = 0; i < n; i++) expect((await gen.next()).done).toBe(false);
    await gen.return(undefined);
    expect((await gen.next()).done).toBe(true);
  });

  it('streams into a slow writer through a pipeline (backpressure) and the result is complete', async () => {
    const tarFile = join(dir, 'piped.tar');
    await pipeline(
      Readable.from(tarDirectory(src, homeRule), { highWaterMark: 1 }),
      createWriteStream(tarFile, { highWaterMark: 512 }),
    );
    expect(readFileSync(tarFile).equals(archive)).toBe(true);
  });
});

describe('tarDirectory failures end the archive with an error', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'warren-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses special files instead of dropping them', async () => {
    const src = join(dir, 'fifo');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a');
    execFileSync('mkfifo', [join(src, 'pipe')]);
    await expect(collect(tarDirectory(src, homeRule))).rejects.toThrow(/pipe is not a file, directory or symlink/);
  });

  it('refuses ids that would not fit a header rather than writing a wrong owner', async () => {
    const src = join(dir, 'ids');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a');
    const rule: OwnershipRule = () => ({ uid: MAX_ID + 1, gid: 0, mode: 0o644 });
    await expect(collect(tarDirectory(src, rule))).rejects.toThrow(`uid ${MAX_ID + 1} is not a valid id`);
  });

  it('writes the largest accepted id exactly', async () => {
    const src = join(dir, 'max-id');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a');
    const got = await readArchive(tarDirectory(src, () => ({ uid: MAX_ID, gid: MAX_ID, mode: 0o644 })));
    expect(got.map((e) => e.header)).toMatchObject([{ name: 'a', uid: MAX_ID, gid: MAX_ID }]);
  });

  it('fails when the root does not exist', async () => {
    await expect(collect(tarDirectory(join(dir, 'missing'), homeRule))).rejects.toThrow(/ENOENT/);
  });
});

describe('checkOwnership', () => {
  it.each([
    [{ uid: -1, gid: 0, mode: 0o644 }, /uid -1/],
    [{ uid: 0, gid: 1.5, mode: 0o644 }, /gid 1.5/],
    [{ uid: 0, gid: 0, mode: 0o10000 }, /mode 4096/],
    [{ uid: 0, gid: 0, mode: -1 }, /mode -1/],
  ])('rejects %o', (own, message) => {
    expect(() => checkOwnership('p', own)).toThrow(message);
  });
  it('passes valid ownership through', () => {
    const own = { uid: MAX_ID, gid: 1000, mode: 0o4755 };
    expect(checkOwnership('p', own)).toEqual(own);
  });
  it('is what the image rule produces for an ordinary file', () => {
    const st = { mode: 0o100644 } as Stats;
    const own = imageOwnership('home/node/x', st);
    expect(checkOwnership('home/node/x', own)).toEqual({ uid: 1000, gid: 1000, mode: 0o644 });
  });
});
