// The built-in skills' worked examples (images/agent/skills/*/SKILL.md), each followed by a scripted agent in a real
// container through a whole warren: what the skill promises is what the home and the database show afterwards.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptMessage } from '../../gateway/inbound.js';
import type { Warren } from '../../gateway/warren.js';
import { startWarren, waitForOutbox } from '../helpers/warren.js';
import { tempTree, type TempTree } from '../helpers/tree.js';

/** A PERSONA.md whose script is given as JSON (YAML reads it as is), so the node snippets need no YAML quoting. */
const scripted = (script: unknown[]) => `---\nharness: script\nscript: ${JSON.stringify(script)}\n---\n`;
const node = (code: string, ...args: string[]) => ['node', '-e', code, ...args];

// ralph-loop: read ~/state/loop.json, do one step, write it back (temp file + rename), say what comes next.
const RALPH = `const fs=require('fs');fs.mkdirSync('state',{recursive:true});const f='state/loop.json';
let s={step:0,done:[]};try{s=JSON.parse(fs.readFileSync(f,'utf8'))}catch{}
s.step+=1;s.done.push('step '+s.step);s.next='step '+(s.step+1);
fs.writeFileSync(f+'.tmp',JSON.stringify(s));fs.renameSync(f+'.tmp',f);console.log('did step '+s.step+', next: '+s.next)`;

// pagination-cursor: one page per turn after the stored cursor; the source's own cursor is stored, END at the end.
const PAGER = `const fs=require('fs');fs.mkdirSync('state',{recursive:true});const f='state/feed.cursor';
const source=(after)=>{const items=['a','b','c','d','e'];const at=after?items.indexOf(after)+1:0;const page=items.slice(at,at+2);
return {page,next_cursor:at+2<items.length?page[page.length-1]:null}};
let c='';try{c=fs.readFileSync(f,'utf8')}catch{}if(c==='END'){console.log('no more pages');process.exit(0)}
const r=source(c);fs.writeFileSync(f,r.next_cursor??'END');console.log('page '+r.page.join(',')+' next '+(r.next_cursor??'END'))`;

// fingerprint: SHA-256 of the input against ~/state/input.sha256; unchanged input is skipped.
const FINGERPRINT = `const fs=require('fs'),crypto=require('crypto');fs.mkdirSync('state',{recursive:true});const f='state/input.sha256';
const h=crypto.createHash('sha256').update(process.argv[1]).digest('hex');let old='';try{old=fs.readFileSync(f,'utf8')}catch{}
if(old===h){console.log('unchanged')}else{console.log('handled '+process.argv[1]);fs.writeFileSync(f,h)}`;

describe('built-in skills: the worked examples', () => {
  let tree: TempTree;
  let warren: Warren;
  const send = (tenant: string, text: string) => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant, text, sender: 'ann' });
    warren.loop.wake();
  };
  /** Sends and waits for the reply that answers it (the n-th row matching `pattern`). */
  const ask = async (tenant: string, text: string, pattern: RegExp, nth: number) => {
    send(tenant, text);
    await waitForOutbox(warren, tenant, () => warren.outbox.list(tenant, { limit: 1000 }).filter((r) => pattern.test(r.text ?? '')).length >= nth);
    return warren.outbox.list(tenant, { limit: 1000 }).filter((r) => pattern.test(r.text ?? '')).map((r) => r.text)[nth - 1];
  };
  const home = (tenant: string, file: string) => readFileSync(join(tree.tenants, tenant, 'home', file), 'utf8');

  beforeAll(async () => {
    tree = tempTree({
      'loop/PERSONA.md': scripted([{ match: '^work$', exec: node(RALPH), reply: '{{result}}' }]),
      'pager/PERSONA.md': scripted([{ match: '^next$', exec: node(PAGER), reply: '{{result}}' }]),
      'watch/PERSONA.md': scripted([{ match: '^check (.*)$', exec: node(FINGERPRINT, '$1'), reply: '{{result}}' }]),
      // pipeline: ingest -> classify -> route -> specialist -> review -> publish
      'desk/PERSONA.md': scripted([
        { match: '^ingest (.*refund.*)$', calls: [{ tool: 'delegate_group', args: { group: 'desk/billing', prompt: '$1' } }], reply: 'routed to billing' },
        { match: '^ingest (.*)$', calls: [{ tool: 'delegate_group', args: { group: 'desk/general', prompt: '$1' } }], reply: 'routed to general' },
        {
          match: '^result from desk/(billing|general) \\((dlg_[^)]+)\\): (.*)$',
          calls: [{ tool: 'delegate_group', args: { group: 'desk/review', prompt: '$3' } }],
          reply: 'sent to review',
        },
        { match: '^result from desk/review \\((dlg_[^)]+)\\): approved: (.*)$', reply: 'published: $2' },
      ]),
      'desk/billing/PERSONA.md': scripted([{ match: '^(.*)$', reply: 'billing draft for $1' }]),
      'desk/general/PERSONA.md': scripted([{ match: '^(.*)$', reply: 'general draft for $1' }]),
      'desk/review/PERSONA.md': scripted([{ match: '^(.*)$', reply: 'approved: $1' }]),
    });
    warren = await startWarren(tree);
  });
  afterAll(async () => {
    await warren.stop();
    tree.cleanup();
  });

  it('ralph-loop: the state file in ~/state/ advances across two turns', async () => {
    expect(await ask('loop', 'work', /^did step/, 1)).toBe('did step 1, next: step 2');
    expect(JSON.parse(home('loop', 'state/loop.json'))).toMatchObject({ step: 1, next: 'step 2' });
    expect(await ask('loop', 'work', /^did step/, 2)).toBe('did step 2, next: step 3');
    expect(JSON.parse(home('loop', 'state/loop.json'))).toEqual({ step: 2, done: ['step 1', 'step 2'], next: 'step 3' });
  });

  it('pagination-cursor: each turn continues from the stored cursor until the source says there is no more', async () => {
    expect(await ask('pager', 'next', /^(page|no more)/, 1)).toBe('page a,b next b');
    expect(home('pager', 'state/feed.cursor')).toBe('b');
    expect(await ask('pager', 'next', /^(page|no more)/, 2)).toBe('page c,d next d');
    expect(await ask('pager', 'next', /^(page|no more)/, 3)).toBe('page e next END');
    expect(await ask('pager', 'next', /^(page|no more)/, 4)).toBe('no more pages');
  });

  it('fingerprint: an unchanged input is skipped, a changed one handled', async () => {
    expect(await ask('watch', 'check price=10', /^(handled|unchanged)/, 1)).toBe('handled price=10');
    expect(await ask('watch', 'check price=10', /^(handled|unchanged)/, 2)).toBe('unchanged');
    expect(await ask('watch', 'check price=12', /^(handled|unchanged)/, 3)).toBe('handled price=12');
  });

  it('pipeline: routed to the specialist, then review, then published, in that order', async () => {
    send('desk', 'ingest refund for order 7');
    const published = await waitForOutbox(warren, 'desk', (r) => /^published:/.test(r.text ?? ''));
    expect(published.text).toBe('published: billing draft for refund for order 7');
    const delegations = warren.db
      .prepare(`SELECT from_tenant, to_tenant, prompt FROM delegations WHERE from_tenant = 'desk' ORDER BY created_at, rowid`)
      .all();
    expect(delegations).toEqual([
      { from_tenant: 'desk', to_tenant: 'desk/billing', prompt: 'refund for order 7' },
      { from_tenant: 'desk', to_tenant: 'desk/review', prompt: 'billing draft for refund for order 7' },
    ]);
  });
});
