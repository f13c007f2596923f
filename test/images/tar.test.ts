import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createWriteStream, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { encodeHeader, endOfArchive, paxRecord, tarDirectory } from '../../images/tar.js';

describe('paxRecord', () => {
  it.each([
    ['path', 'a'], // " path=a\n" is 8 bytes: length 9 has one digit
    ['path', 'ab'], // 9 bytes: 10 has two digits, so the record is 11
    ['path', 'x'.repeat(200)],
  ])('counts its own length (%s=%s)', (key, value) => {
    const rec = paxRecord(key, value);
    const len = Number(rec.slice(0, rec.indexOf(' ')));
    expect(Buffer.byteLength(rec)).toBe(len);
    expect(rec.endsWith(`${key}=${value}\n`)).toBe(true);
  });
});

describe('encodeHeader', () => {
  const base = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 };
  it('writes one 512-byte ustar block with a valid checksum', () => {
    const h = encodeHeader({ ...base, path: 'etc/passwd', type: 'file', size: 10 });
    expect(h.length).toBe(512);
    expect(h.subarray(257, 263).toString('latin1')).toBe('ustar\0');
    const stored = parseInt(h.subarray(148, 154).toString('latin1'), 8);
    const copy = Buffer.from(h);
    copy.fill(0x20, 148, 156);
    expect(stored).toBe(copy.reduce((a, b) => a + b, 0));
  });
  it('puts a PAX header before names longer than 100 bytes', () => {
    const long = `a/${'b'.repeat(120)}`;
    const h = encodeHeader({ ...base, path: long, type: 'file', size: 0 });
    expect(h.length).toBe(512 * 3);
    expect(String.fromCharCode(h[156]!)).toBe('x');
    expect(h.subarray(512, 1024).toString('utf8')).toContain(`path=${long}\n`);
  });
  it('refuses content on anything but files', () => {
    expect(() => encodeHeader({ ...base, path: 'd', type: 'dir', size: 1 })).toThrow(/only files/);
  });
  it('ends archives with two zero blocks', () => {
    expect(endOfArchive().equals(Buffer.alloc(1024))).toBe(true);
  });
});

describe('tarDirectory, read back by GNU tar', () => {
  let dir: string;
  let tarFile: string;
  const long = `deep/${'n'.repeat(110)}.txt`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-'));
    const src = join(dir, 'src');
    mkdirSync(join(src, 'home/node/sub'), { recursive: true });
    mkdirSync(join(src, 'deep'));
    writeFileSync(join(src, 'home/node/sub/file.txt'), 'agent data\n');
    writeFileSync(join(src, 'big.bin'), Buffer.alloc(70_000, 7)); // spans many blocks, not a multiple of 512
    linkSync(join(src, 'big.bin'), join(src, 'big-link.bin'));
    symlinkSync('big.bin', join(src, 'sym'));
    writeFileSync(join(src, long), 'long name');
    tarFile = join(dir, 'out.tar');
    const owner = (p: string, st: { mode: number }) =>
      p === 'home/node' || p.startsWith('home/node/')
        ? { uid: 1000, gid: 1000, mode: st.mode & 0o7777 }
        : { uid: 0, gid: 0, mode: st.mode & 0o7777 };
    await pipeline(Readable.from(tarDirectory(src, owner)), createWriteStream(tarFile));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists every entry with the ownership the rule decided', () => {
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', tarFile], { encoding: 'utf8' });
    const line = (name: string) => listing.split('\n').find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} `));
    expect(line('home/node/sub/file.txt')).toMatch(/ 1000\/1000 /);
    expect(line('big-link.bin')).toMatch(/ 0\/0 /);
    // entries are sorted, so big-link.bin carries the content and big.bin is the hard link to it
    expect(listing).toMatch(/^h.* big\.bin link to big-link\.bin$/m);
    expect(listing).toMatch(/^l.* sym -> big\.bin$/m);
    expect(listing).toContain(long);
  });

  it('extracts to the same content, storing the hard link once', () => {
    const out = join(dir, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xf', tarFile, '-C', out]);
    expect(readFileSync(join(out, 'big.bin')).equals(Buffer.alloc(70_000, 7))).toBe(true);
    expect(statSync(join(out, 'big-link.bin')).ino).toBe(statSync(join(out, 'big.bin')).ino);
    expect(readFileSync(join(out, long), 'utf8')).toBe('long name');
    expect(readFileSync(join(out, 'home/node/sub/file.txt'), 'utf8')).toBe('agent data\n');
    // 70 000 bytes of content once, not twice: the archive stays well under two copies.
    expect(statSync(tarFile).size).toBeLessThan(2 * 70_000);
  });
});
