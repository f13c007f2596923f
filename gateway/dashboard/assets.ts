// The dashboard's script and style, served as files (/dashboard/app.js, /dashboard/style.css) so the
// Content-Security-Policy can forbid inline script and style. The script only follows a run's live output: an
// EventSource on the SSE route (the session cookie authenticates it; EventSource resumes with Last-Event-ID by itself),
// each chunk written with textContent, never as HTML.

export const APP_JS = `'use strict';
(function () {
  var live = document.getElementById('live');
  if (!live) return;
  var list = document.getElementById('live-chunks');
  var state = document.getElementById('live-state');
  var source = new EventSource(live.dataset.src);
  var line = function (cls, text, seq) {
    var li = document.createElement('li');
    li.className = cls;
    if (seq) li.dataset.seq = seq;
    li.textContent = text;
    list.appendChild(li);
  };
  source.onopen = function () { state.textContent = 'live'; };
  source.onerror = function () { if (source.readyState !== 2) state.textContent = 'reconnecting…'; };
  source.onmessage = function (e) {
    var c = JSON.parse(e.data);
    line('chunk chunk-' + c.kind, c.text !== undefined ? c.text : JSON.stringify(c.data), String(c.seq));
  };
  source.addEventListener('gap', function (e) {
    var g = JSON.parse(e.data);
    line('gap', 'chunks ' + g.from + '–' + g.to + ' were pruned before they could be shown');
  });
  source.addEventListener('end', function (e) {
    var d = JSON.parse(e.data);
    source.close();
    state.textContent = 'ended: ' + d.status;
  });
})();
`;

export const STYLE_CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center}
header a{color:#cfe0ff;margin-right:.8rem;text-decoration:none}header nav{display:flex;align-items:center;flex:1}
.who{margin-left:auto;margin-right:.8rem;color:#aab}.inline{display:inline}
main{padding:1rem 1.5rem;max-width:1200px}h1{margin-top:.2rem}h2{font-size:1.05rem;margin-top:1.4rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border-bottom:1px solid #e2e5ea;padding:.3rem .5rem;text-align:left;vertical-align:top}
pre{background:#fff;border:1px solid #e2e5ea;padding:.6rem;white-space:pre-wrap;word-break:break-word}
code{font-size:.92em}.error,.errors{color:#a11}.empty{color:#777}
.status{padding:0 .4rem;border-radius:3px;background:#e7e9ee}.status-ok,.status-allow,.status-ok{background:#d7f2dc}
.status-deny,.status-invalid,.status-blocked{background:#f8d7d7}.status-lastgood{background:#fbefc9}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.cards div{background:#fff;border:1px solid #e2e5ea;padding:.6rem 1rem;min-width:8rem}
.cards dt{color:#666}.cards dd{margin:0;font-size:1.5rem}
.depth-1 td:first-child{padding-left:1.5rem}.depth-2 td:first-child{padding-left:2.5rem}.depth-3 td:first-child{padding-left:3.5rem}
.depth-4 td:first-child,.depth-5 td:first-child,.depth-6 td:first-child{padding-left:4.5rem}
form label{margin-right:.8rem}.allowed{border-left:4px solid #2a7}.denied{border-left:4px solid #c33}#explain-result{padding:.2rem .8rem;background:#fff}
.chunks{font-family:ui-monospace,monospace;background:#fff;border:1px solid #e2e5ea;padding:.5rem 2.5rem}.gap{color:#a60}
.messages li{margin-bottom:.5rem}.meta{color:#666;font-size:.9em}.login{display:flex;gap:.5rem;align-items:end}
`;
