// The dashboard's pages as pure functions of what the read facade answered: no query here, no I/O. Every value is
// interpolated through `html` (html.ts), so tenant-controlled text renders as text.
import type { EgressLogRow } from '../../core/egress-log-query.js';
import { tenantId } from '../../core/tenant-path.js';
import type { AuditRow } from '../../gated/audit.js';
import type { CallExplanation, TenantRow, TenantsReport } from '../../gated/control.js';
import type { MessageRow } from '../../gated/store.js';
import { ALLOWLIST_FILE, GRANTS_FILE, PERSONA_FILE } from '../../core/tree/layout.js';
import type { Principal } from '../http/principals.js';
import type { Page, RunRow } from '../read/facade.js';
import { html, query, type Html } from './html.js';

export interface Chrome {
  title: string;
  principal: Principal | null;
  csrf: string | null;
}

const who = (p: Principal) => (p.kind === 'operator' ? 'operator' : `token ${p.id} (${p.access} on ${p.scope})`);
export const tenantHref = (tenant: string) => `/tenants/${encodeURIComponent(tenantId(tenant as never))}`;

export function layout(chrome: Chrome, body: Html): Html {
  const nav = chrome.principal
    ? html`<nav><a href="/">Overview</a> <a href="/tenants">Tenants</a> <a href="/audit">Audit</a> <a href="/egress">Egress</a>
<a href="/workers">Workers</a><span class="who">${who(chrome.principal)}</span>
<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="${chrome.csrf}"><button>Log out</button></form></nav>`
    : html``;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${chrome.title} · warren</title><link rel="stylesheet" href="/dashboard/style.css"><script src="/dashboard/app.js" defer></script></head>
<body><header><strong>warren</strong> ${nav}</header><main><h1>${chrome.title}</h1>
${body}</main></body></html>`;
}

export function loginPage(opts: { loginCsrf: string; error?: string }): Html {
  return html`${opts.error ? html`<p class="error">${opts.error}</p>` : ''}
<form method="post" action="/login" class="login">
<input type="hidden" name="csrf" value="${opts.loginCsrf}">
<label>Operator token or scoped token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button>Log in</button></form>
<p class="hint">The token is sent in the form body, never in a URL; <code>warren up</code> also prints a one-time login link.</p>`;
}

export function errorBody(message: string): Html {
  return html`<p class="error">${message}</p>`;
}

const status = (s: string) => html`<span class="status status-${s.replace(/[^a-z]/g, '')}">${s}</span>`;

function auditTable(rows: readonly AuditRow[]): Html {
  if (rows.length === 0) return html`<p class="empty">No audit rows.</p>`;
  return html`<table class="audit"><thead><tr><th>id</th><th>time</th><th>tenant</th><th>tool</th><th>decision</th><th>rule</th><th>args</th><th>reason</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td>${r.id}</td><td>${r.time}</td><td><a href="${tenantHref(r.tenant)}">${r.tenant}</a></td><td>${r.tool}</td>
<td>${status(r.decision)}</td><td>${r.rule ?? ''}</td><td><code>${r.args_shape}</code></td><td>${r.reason ?? ''}</td></tr>`)}
</tbody></table>`;
}

export function overviewPage(o: { runs: number; queue: number; report: TenantsReport; denials: readonly AuditRow[] }): Html {
  const broken = o.report.tenants.filter((t) => t.status !== 'ok').length;
  return html`<dl class="cards"><div><dt>Health</dt><dd>ok</dd></div><div><dt>Running turns</dt><dd id="running">${o.runs}</dd></div>
<div><dt>Queue depth</dt><dd id="queue">${o.queue}</dd></div><div><dt>Tenants</dt><dd>${o.report.tenants.length}</dd></div>
<div><dt>Not ok</dt><dd>${broken}</dd></div></dl>
<h2>Recent denials</h2>${auditTable(o.denials)}`;
}

function errorsList(errors: readonly string[]): Html {
  return errors.length ? html`<ul class="errors">${errors.map((e) => html`<li><code>${e}</code></li>`)}</ul>` : html``;
}

export function tenantsPage(report: TenantsReport): Html {
  const depth = (t: TenantRow) => t.tenant.split('/').length - 1;
  return html`${report.errors.length ? html`<h2>Configuration errors</h2>${errorsList(report.errors)}` : ''}
<table class="tree"><thead><tr><th>tenant</th><th>tier</th><th>status</th><th>errors</th></tr></thead><tbody>
${report.tenants.map((t) => html`<tr class="depth-${Math.min(depth(t), 6)}"><td><a href="${tenantHref(t.tenant)}">${t.tenant}</a></td><td>${t.tier}</td>
<td>${status(t.status)}${t.closedBecause ? html` <small>${t.closedBecause}</small>` : ''}</td><td>${errorsList(t.errors)}</td></tr>`)}
</tbody></table>`;
}

export interface TenantView {
  row: TenantRow;
  files: { persona: string | null; grants: string | null; allowlist: string | null; skills: string[] };
  secrets: string[] | null;
  runs: Page<RunRow>;
  topics: { topic: string; created_at: string }[];
  /** Chats routed to this tenant (`warren routes`). */
  routes: { chat: string; created_by: string; created_at: string }[];
  csrf: string;
  explained?: { tool: string; args: string; result: CallExplanation | { error: string } };
  /** What /status says about its work now (gateway/status.ts). */
  status: string;
}

const fileBlock = (name: string, text: string | null) =>
  html`<section><h2>${name}</h2>${text === null ? html`<p class="empty">No ${name}.</p>` : html`<pre>${text}</pre>`}</section>`;

function explanation(e: NonNullable<TenantView['explained']>): Html {
  const r = e.result;
  if ('error' in r) return html`<p class="error" id="explain-result">${r.error}</p>`;
  return html`<div id="explain-result" class="${r.allowed ? 'allowed' : 'denied'}"><p><strong>${r.allowed ? 'allowed' : 'denied'}</strong>
${r.refusedAt ? html` at ${r.refusedAt}` : ''}: ${r.message}</p>${r.rule ? html`<p>rule: <code>${r.rule}</code></p>` : ''}
${r.rules ? html`<ul>${r.rules.applied.map((a) => html`<li>${a.holds ? 'holds' : 'does not hold'}: <code>${a.description}</code></li>`)}</ul>` : ''}
${errorsList(r.errors)}</div>`;
}

export function tenantPage(v: TenantView): Html {
  const id = tenantHref(v.row.tenant);
  return html`<p>tier ${v.row.tier} · ${status(v.row.status)}</p>${errorsList(v.row.errors)}
<section><h2>Work now</h2><pre id="work-status">${v.status}</pre></section>
${fileBlock(PERSONA_FILE, v.files.persona)}${fileBlock(GRANTS_FILE, v.files.grants)}
<section><h2>Explain a call</h2><form method="post" action="${id}/explain" class="explain">
<input type="hidden" name="csrf" value="${v.csrf}">
<label>tool <input name="tool" required value="${v.explained?.tool ?? ''}"></label>
<label>arguments (JSON object) <input name="args" value="${v.explained?.args ?? '{}'}"></label><button>Explain</button></form>
${v.explained ? explanation(v.explained) : ''}</section>
${fileBlock(ALLOWLIST_FILE, v.files.allowlist)}
<section><h2>Skills</h2>${v.files.skills.length ? html`<ul>${v.files.skills.map((s) => html`<li>${s}</li>`)}</ul>` : html`<p class="empty">No skills.</p>`}</section>
<section><h2>Secret names</h2>${v.secrets === null ? html`<p class="empty">No secrets store on this DATA folder.</p>`
    : v.secrets.length ? html`<ul>${v.secrets.map((s) => html`<li><code>${s}</code></li>`)}</ul>` : html`<p class="empty">No secrets.</p>`}</section>
<section><h2>Chats routed here</h2>${v.routes.length ? html`<table class="routes"><thead><tr><th>chat</th><th>routed by</th><th>since</th></tr></thead><tbody>
${v.routes.map((r) => html`<tr><td><code>${r.chat}</code></td><td>${r.created_by}</td><td>${r.created_at}</td></tr>`)}</tbody></table>`
    : html`<p class="empty">No chat is routed to this tenant (<code>warren routes</code>).</p>`}</section>
<section><h2>Conversations</h2>${v.topics.length ? html`<ul>${v.topics.map((t) => html`<li><a href="${id}/conversation${query({ topic: t.topic })}">${t.topic}</a> <small>${t.created_at}</small></li>`)}</ul>` : html`<p class="empty">No conversations.</p>`}</section>
<section><h2>Runs</h2>${runsTable(v.row.tenant, v.runs.items)}</section>`;
}

function runsTable(tenant: string, runs: readonly RunRow[]): Html {
  if (runs.length === 0) return html`<p class="empty">No runs.</p>`;
  return html`<table><thead><tr><th>run</th><th>topic</th><th>status</th><th>started</th><th>error</th></tr></thead><tbody>
${runs.map((r) => html`<tr><td><a href="${tenantHref(tenant)}/runs/${encodeURIComponent(r.id)}">${r.id}</a></td><td>${r.topic}</td><td>${status(r.status)}</td><td>${r.started_at}</td><td>${r.error ?? ''}</td></tr>`)}
</tbody></table>`;
}

function messages(rows: readonly MessageRow[]): Html {
  if (rows.length === 0) return html`<p class="empty">No messages.</p>`;
  return html`<ol class="messages">${rows.map((m) => html`<li><div class="meta">${m.sender} · ${m.kind} · ${m.created_at}${m.run ? html` · <a href="${tenantHref(m.tenant)}/runs/${encodeURIComponent(m.run)}">run</a>` : ''}</div><pre>${m.text}</pre></li>`)}</ol>`;
}

export function conversationPage(tenant: string, inbox: Page<MessageRow>): Html {
  return html`<p><a href="${tenantHref(tenant)}">${tenant}</a></p><h2>Messages, newest first</h2>${messages(inbox.items)}`;
}

export function runPage(v: { tenant: string; turn: { run: RunRow; messages: MessageRow[]; said: unknown[] } | undefined; run: string; live: boolean }): Html {
  const src = `/v1/tenants/${encodeURIComponent(tenantId(v.tenant as never))}/runs/${encodeURIComponent(v.run)}/output`;
  const said = (v.turn?.said ?? []) as { kind?: string; text?: string }[];
  return html`<p><a href="${tenantHref(v.tenant)}">${v.tenant}</a>${v.turn ? html` · ${status(v.turn.run.status)} · topic ${v.turn.run.topic} · started ${v.turn.run.started_at}` : ''}</p>
${v.turn?.run.error ? html`<p class="error">${v.turn.run.error}</p>` : ''}
<h2>Live output</h2>${v.live ? html`<div id="live" data-src="${src}"><p id="live-state">connecting…</p><ol id="live-chunks" class="chunks"></ol></div>`
    : html`<p class="empty">No live output recorded for this run.</p>`}
${v.turn ? html`<h2>Messages it answered</h2>${messages(v.turn.messages)}<h2>What it said</h2>${said.length ? html`<ol class="messages">${said.map((s) => html`<li><div class="meta">${s.kind ?? ''}</div><pre>${s.text ?? ''}</pre></li>`)}</ol>` : html`<p class="empty">Nothing yet.</p>`}` : ''}`;
}

export interface AuditView {
  filter: { tenant?: string; tool?: string; decision?: string };
  page: Page<AuditRow>;
}

export function auditPage(v: AuditView): Html {
  const f = v.filter;
  const options = ['', 'allow', 'deny', 'unknown', 'invalid'];
  return html`<form method="get" action="/audit" class="filters">
<label>tenant (and below) <input name="tenant" value="${f.tenant ?? ''}"></label><label>tool <input name="tool" value="${f.tool ?? ''}"></label>
<label>decision <select name="decision">${options.map((o) => html`<option value="${o}"${o === (f.decision ?? '') ? html` selected` : ''}>${o || 'any'}</option>`)}</select></label>
<button>Filter</button></form>
${auditTable(v.page.items)}
${v.page.next_before !== null ? html`<p><a id="older" href="/audit${query({ ...f, before: v.page.next_before })}">Older</a></p>` : ''}`;
}

export function egressPage(rows: readonly EgressLogRow[]): Html {
  if (rows.length === 0) return html`<p class="empty">No egress decisions recorded.</p>`;
  return html`<table><thead><tr><th>time</th><th>tenant</th><th>kind</th><th>name</th><th>port</th><th>decision</th><th>rule</th><th>reason</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td>${new Date(r.time).toISOString()}</td><td>${r.tenant}</td><td>${r.kind}</td><td>${r.name}</td><td>${r.port ?? ''}</td>
<td>${status(r.allowed ? 'allow' : 'deny')}</td><td>${r.rule}</td><td>${r.reason}</td></tr>`)}</tbody></table>`;
}

export function workersPage(): Html {
  return html`<p class="empty">No workers: every turn runs on this host. Remote workers arrive with issue 12.</p>`;
}
