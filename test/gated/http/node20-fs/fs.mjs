// node:fs, plus globSync where this Node has none (it arrived in Node 22).
import fs from 'node:fs';
export * from 'node:fs';
export default fs;
export const globSync =
  fs.globSync ??
  (() => {
    throw new Error('globSync needs Node 22');
  });
