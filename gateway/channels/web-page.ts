// The web chat page: server-rendered HTML, one small script and one stylesheet, all served from /chat/ under a
// Content-Security-Policy that allows nothing else (no inline script, no other origin). Everything interpolated is
// escaped; messages are added by the script with textContent, never as HTML.

export const CHAT_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers every /chat/ answer carries. */
export const CHAT_HEADERS: Record<string, string> = {
  'content-security-policy': CHAT_CSP,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/chat/app.css">
</head>
<body>
${body}
</body>
</html>
`;
}

export function chatPage(p: { chat: string; csrf: string }): string {
  const name = p.chat.replace(/^web:/, '');
  return layout(
    `Chat · ${name}`,
    `<main class="chat" data-csrf="${escapeHtml(p.csrf)}">
<header><h1>${escapeHtml(name)}</h1><span id="state" class="state">connecting…</span></header>
<ol id="log" class="log" aria-live="polite"></ol>
<form id="composer" class="composer">
<textarea id="text" name="text" rows="2" maxlength="65536" placeholder="Write a message… (Enter sends, Shift+Enter for a new line)" required></textarea>
<button type="submit">Send</button>
</form>
</main>
<script src="/chat/app.js"></script>`,
  );
}

export function refusedPage(message: string): string {
  return layout('Chat link not valid', `<main class="refused"><h1>This chat link does not work</h1><p>${escapeHtml(message)}</p></main>`);
}

export const CHAT_SCRIPT = `'use strict';
(() => {
  const main = document.querySelector('main.chat');
  const csrf = main.dataset.csrf;
  const log = document.getElementById('log');
  const form = document.getElementById('composer');
  const input = document.getElementById('text');
  const state = document.getElementById('state');
  const setState = (text, kind) => { state.textContent = text; state.dataset.kind = kind; };
  const add = (who, text, id) => {
    const li = document.createElement('li');
    li.className = 'msg ' + who;
    if (id) li.dataset.id = id;
    const p = document.createElement('p');
    p.textContent = text;
    li.append(p);
    log.append(li);
    li.scrollIntoView({ block: 'end' });
  };
  const events = new EventSource('/chat/events');
  events.addEventListener('open', () => setState('connected', 'ok'));
  events.addEventListener('error', () => { if (events.readyState !== EventSource.CLOSED) setState('reconnecting…', 'warn'); });
  events.addEventListener('reply', (e) => add('agent', JSON.parse(e.data).text, e.lastEventId));
  events.addEventListener('end', (e) => {
    events.close();
    setState(JSON.parse(e.data).message, 'error');
    input.disabled = true;
  });
  const send = async () => {
    const text = input.value.trim();
    if (!text || input.disabled) return;
    const res = await fetch('/chat/send', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ text }),
      credentials: 'same-origin',
    });
    if (res.ok) { add('me', text); input.value = ''; return; }
    let error = 'could not send (' + res.status + ')';
    try { error = (await res.json()).error || error; } catch {}
    setState(error, 'error');
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); send(); });
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); } });
})();
`;

export const CHAT_STYLE = `*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
main.chat{max-width:760px;margin:0 auto;height:100vh;display:flex;flex-direction:column;background:#fff;box-shadow:0 0 0 1px #e5e7eb}
header{display:flex;align-items:baseline;justify-content:space-between;padding:14px 20px;border-bottom:1px solid #e5e7eb}
h1{font-size:18px;margin:0}
.state{font-size:13px;color:#6b7280}
.state[data-kind=ok]{color:#047857}.state[data-kind=warn]{color:#b45309}.state[data-kind=error]{color:#b91c1c}
.log{list-style:none;margin:0;padding:16px 20px;flex:1;overflow-y:auto;display:flex;flex-direction:column;gap:10px}
.msg{max-width:80%;padding:9px 13px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}
.msg p{margin:0}
.msg.agent{align-self:flex-start;background:#f3f4f6;border-bottom-left-radius:4px}
.msg.me{align-self:flex-end;background:#2563eb;color:#fff;border-bottom-right-radius:4px}
.composer{display:flex;gap:10px;padding:12px 20px;border-top:1px solid #e5e7eb}
textarea{flex:1;resize:none;font:inherit;padding:9px 12px;border:1px solid #d1d5db;border-radius:10px}
textarea:focus{outline:2px solid #93c5fd;border-color:#60a5fa}
button{font:inherit;padding:0 18px;border:0;border-radius:10px;background:#2563eb;color:#fff;cursor:pointer}
button:hover{background:#1d4ed8}
main.refused{max-width:520px;margin:15vh auto;padding:28px;background:#fff;border-radius:12px;box-shadow:0 1px 3px #0002}
`;
