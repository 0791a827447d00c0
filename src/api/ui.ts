import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { swaggerUI } from '@hono/swagger-ui';
import type { Hono } from 'hono';

/**
 * The browser pages the API serves, with nothing from a CDN: `/ui` (a dashboard of extractions and mailbox mirrors,
 * vanilla HTML and JavaScript) and `/docs` (Swagger UI, its assets read from the swagger-ui-dist package). Both pages
 * are open; the dashboard asks for an API key and sends it with every call, as any other client does.
 */
const swaggerDist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'text/javascript' };

export interface UiOptions {
  /** Temporal Web UI base URL and namespace, for the links to each workflow. */
  temporalUiUrl: string;
  namespace: string;
  /** Payloads are encrypted: signing in also opens a codec session, so the Temporal Web UI decodes in this browser. */
  codecSessions?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function uiRoutes(app: Hono<any>, opts: UiOptions): void {
  const assets = new Map(Object.keys(ASSETS).map((f) => [f, readFileSync(join(swaggerDist, f))]));
  app.get('/docs/assets/swagger-ui-dist/:file', (c) => {
    const file = c.req.param('file');
    const body = assets.get(file);
    if (!body) return c.notFound();
    return c.body(body, 200, { 'content-type': ASSETS[file]!, 'cache-control': 'public, max-age=86400' });
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json', baseUrl: '/docs/assets', title: 'gmail-lake API', persistAuthorization: true }));
  const page = dashboard(opts);
  app.get('/ui', (c) => c.html(page));
  app.get('/favicon.ico', (c) => c.body(null, 204)); // browsers ask; no icon, and no 401 in their console
}

function dashboard(opts: UiOptions): string {
  const config = JSON.stringify({
    temporalUi: opts.temporalUiUrl.replace(/\/$/, ''),
    namespace: opts.namespace,
    codecSessions: !!opts.codecSessions,
  }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gmail-lake</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1f2328; }
  h1 { font-size: 20px; margin: 0 0 12px; } h2 { font-size: 16px; margin: 24px 0 8px; }
  form { display: flex; gap: 8px; align-items: center; margin-bottom: 8px; }
  input { font: inherit; padding: 4px 8px; width: 28em; }
  button { font: inherit; padding: 2px 10px; cursor: pointer; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d0d7de; vertical-align: middle; }
  th { font-weight: 600; background: #f6f8fa; }
  .bar { width: 160px; height: 10px; background: #eaeef2; border-radius: 5px; overflow: hidden; display: inline-block; vertical-align: middle; }
  .bar > span { display: block; height: 100%; background: #2da44e; }
  .status { padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #eaeef2; }
  .status.running { background: #ddf4ff; } .status.paused, .status.pausing { background: #fff8c5; } .status.completed { background: #dafbe1; }
  .status.failed, .status.canceled, .status.terminated { background: #ffebe9; }
  #message { color: #cf222e; min-height: 1.4em; } .muted { color: #656d76; }
  #results tr { cursor: pointer; } #results tr:hover { background: #f6f8fa; }
  #reader { border: 1px solid #d0d7de; border-radius: 6px; padding: 12px; margin-top: 12px; }
  #reader dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 8px; } #reader dt { color: #656d76; }
  #reader iframe { width: 100%; height: 480px; border: 1px solid #eaeef2; } #reader pre { white-space: pre-wrap; }
</style>
</head>
<body>
<h1>gmail-lake</h1>
<form id="login"><label for="key">API key</label><input id="key" type="password" autocomplete="off" placeholder="glk_…"><button>Connect</button><span class="muted" id="who"></span></form>
<div id="message" role="status"></div>
<h2>Extractions</h2>
<table id="extractions"><thead><tr><th>Mailbox</th><th>Status</th><th>Progress</th><th>Messages</th><th>Rate</th><th>ETA</th><th>Updated</th><th></th></tr></thead><tbody></tbody></table>
<h2>Mirrors</h2>
<table id="mirrors"><thead><tr><th>Mailbox</th><th>Schedule</th><th>Last sync</th><th>Changes</th><th>historyId</th></tr></thead><tbody></tbody></table>
<h2>Messages</h2>
<form id="search"><input id="account" placeholder="mailbox, e.g. you@gmail.com" style="width:16em"><input id="q" placeholder="Gmail search: from:ann has:attachment after:2024/01/01"><button>Search</button></form>
<table id="results"><thead><tr><th>Date</th><th>From</th><th>Subject</th></tr></thead><tbody></tbody></table>
<button id="more" hidden>More</button>
<div id="reader" hidden></div>
<script>
const CONFIG = ${config};
const $ = (s) => document.querySelector(s);
let key = sessionStorage.getItem('gmail-lake-key') || '';
const closed = new Map();
const say = (text) => { $('#message').textContent = text || ''; };
async function call(method, path) {
  const res = await fetch(path, { method, headers: { authorization: 'Bearer ' + key } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((body.error && body.error.message) || res.status + ' ' + res.statusText);
  return body;
}
const cell = (text, cls) => { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; };
const n = (v) => (v ?? 0).toLocaleString('en-US');
const eta = (s) => s == null ? '—' : s >= 3600 ? (s / 3600).toFixed(1) + ' h' : s >= 60 ? Math.round(s / 60) + ' min' : s + ' s';
function row(e) {
  const tr = document.createElement('tr');
  tr.dataset.id = e.id;
  tr.appendChild(cell(e.account || e.id));
  const st = document.createElement('td'); const badge = document.createElement('span'); badge.className = 'status ' + e.status; badge.textContent = e.status; st.appendChild(badge);
  // Why it ended (e.g. a refresh token that expired: the line says which command signs the mailbox in again).
  if (e.error) { const why = document.createElement('div'); why.className = 'muted error'; why.textContent = e.error; st.appendChild(why); }
  // Stalled: nothing committed for EXTRACT_STALL_AFTER; what the activities last failed with and the fix.
  if (e.stalled) { const why = document.createElement('div'); why.className = 'error stalled'; why.textContent = 'stalled since ' + new Date(e.stalled.since).toLocaleTimeString() + ': ' + (e.stalled.lastError || 'no failure reported') + ' — ' + e.stalled.fix; st.appendChild(why); }
  tr.appendChild(st);
  const p = e.progress || {};
  const pr = document.createElement('td'); const bar = document.createElement('span'); bar.className = 'bar'; const fill = document.createElement('span'); fill.style.width = (p.percent || 0) + '%'; bar.appendChild(fill); pr.appendChild(bar); pr.appendChild(document.createTextNode(' ' + (p.percent ?? 0) + '%')); tr.appendChild(pr);
  tr.appendChild(cell(n((p.persisted || 0) + (p.present || 0) + (p.skipped || 0) + (p.failed || 0)) + ' / ' + n(p.total) + (p.malformed ? ' (' + n(p.malformed) + ' malformed)' : '') + (p.failed ? ' (' + n(p.failed) + ' failed: failed_messages)' : '')));
  tr.appendChild(cell(e.ratePerSecond != null ? e.ratePerSecond + ' msg/s' : '—'));
  tr.appendChild(cell(eta(e.etaSeconds)));
  tr.appendChild(cell(e.updatedAt ? new Date(e.updatedAt).toLocaleTimeString() : '—', 'muted'));
  const actions = document.createElement('td');
  const act = (label, action) => { const b = document.createElement('button'); b.textContent = label; b.onclick = () => signal(e.id, action); actions.appendChild(b); };
  if (e.status === 'running') act('Pause', 'pause');
  if (e.status === 'paused' || e.status === 'pausing') act('Resume', 'resume');
  if (e.status === 'running' || e.status === 'paused' || e.status === 'pausing') act('Cancel', 'cancel');
  const a = document.createElement('a'); a.textContent = 'Temporal UI'; a.target = '_blank'; a.rel = 'noopener';
  a.href = CONFIG.temporalUi + '/namespaces/' + encodeURIComponent(CONFIG.namespace) + '/workflows/' + encodeURIComponent(e.id);
  actions.appendChild(document.createTextNode(' ')); actions.appendChild(a);
  tr.appendChild(actions);
  return tr;
}
async function signal(id, action) {
  if (action === 'cancel' && !confirm('Cancel ' + id + '? Committed batches stay in the lake.')) return;
  try { await call('POST', '/extract/' + encodeURIComponent(id) + '/' + action); for (const k of [...closed.keys()]) if (k.startsWith(id + '/')) closed.delete(k); refresh(); }
  catch (err) { say(action + ': ' + err.message); }
}
let mirrorsAt = 0;
async function refresh() {
  if (!key) { say('Enter an API key (npm run key prints one; the demo prints its own).'); return; }
  try {
    const { extractions } = await call('GET', '/extract');
    const rows = [];
    // One row per extraction: the list has every run, newest first, and only the newest run's figures are live.
    const newest = extractions.filter((x, i) => extractions.findIndex((y) => y.id === x.id) === i);
    for (const x of newest.slice(0, 20)) {
      const open = x.status === 'running' || x.status === 'paused' || x.status === 'pausing';
      const runKey = x.id + '/' + x.runId;
      if (!open && closed.has(runKey)) { rows.push(closed.get(runKey)); continue; }
      const full = await call('GET', '/extract/' + encodeURIComponent(x.id)).catch(() => ({ ...x }));
      if (!open) closed.set(runKey, full);
      rows.push(full);
    }
    $('#extractions tbody').replaceChildren(...rows.map(row));
    if (Date.now() - mirrorsAt > 10000) {
      mirrorsAt = Date.now();
      const accounts = [...new Set(extractions.map((x) => x.account).filter(Boolean))].slice(0, 20);
      const mirrors = await Promise.all(accounts.map((acc) => call('GET', '/mailboxes/' + encodeURIComponent(acc)).catch(() => null)));
      $('#mirrors tbody').replaceChildren(...mirrors.filter(Boolean).map((m) => {
        const tr = document.createElement('tr');
        const s = m.lastSync;
        tr.appendChild(cell(m.account));
        tr.appendChild(cell(m.schedule ? 'every ' + m.schedule.every + (m.schedule.paused ? ' (paused)' : '') : (m.syncRunning ? 'sync running' : '—')));
        tr.appendChild(cell(s ? s.status + ' by ' + s.mode + (s.finishedAt ? ', ' + new Date(s.finishedAt).toLocaleString() : '') : '—'));
        tr.appendChild(cell(s ? '+' + s.changes.added + ' −' + s.changes.deleted + ' labels +' + s.changes.labelsAdded + '/−' + s.changes.labelsRemoved : '—'));
        tr.appendChild(cell(m.historyId || '—', 'muted'));
        return tr;
      }));
    }
    say('');
  } catch (err) { say(err.message); }
}
// With encrypted payloads, a codec session (an HttpOnly cookie for /codec only) lets the Temporal Web UI of this
// browser decode through this API (its codec endpoint set to this origin's /codec, with cross-origin credentials).
async function codecSession() {
  if (!CONFIG.codecSessions || !key) return;
  const res = await fetch('/codec/session', { method: 'POST', headers: { authorization: 'Bearer ' + key } }).catch(() => null);
  $('#who').textContent = res && res.ok
    ? 'Temporal Web UI decoding on in this browser (codec endpoint ' + location.origin + '/codec, with cross-origin credentials)'
    : '';
}
// Search and read. A message's HTML is shown in a sandboxed frame (no scripts, no forms, no same-origin) whose own
// Content-Security-Policy blocks everything remote: no image, font, style sheet or tracking pixel is ever fetched.
const FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; form-action 'none'";
let cursor = null;
async function search(more) {
  const account = $('#account').value.trim();
  if (!account) { say('Name the mailbox to search.'); return; }
  sessionStorage.setItem('gmail-lake-account', account);
  if (!more) cursor = null;
  const params = new URLSearchParams({ account, q: $('#q').value, limit: '50' });
  if (cursor) params.set('cursor', cursor);
  try {
    const page = await call('GET', '/messages?' + params);
    const rows = page.messages.map((m) => {
      const tr = document.createElement('tr'); tr.dataset.id = m.id;
      tr.appendChild(cell(m.internalDate ? new Date(m.internalDate).toLocaleString() : '—', 'muted'));
      tr.appendChild(cell(m.from || '')); tr.appendChild(cell(m.subject || '(no subject)'));
      tr.onclick = () => read(account, m.id);
      return tr;
    });
    if (more) $('#results tbody').append(...rows); else $('#results tbody').replaceChildren(...rows);
    cursor = page.nextCursor || null;
    $('#more').hidden = !cursor;
    say(page.messages.length || more ? '' : 'No message matches.');
  } catch (err) { say(err.message); }
}
async function read(account, id) {
  try {
    const m = await call('GET', '/messages/' + encodeURIComponent(account) + '/' + encodeURIComponent(id));
    const reader = $('#reader'); reader.hidden = false; reader.replaceChildren();
    const dl = document.createElement('dl');
    const field = (name, value) => { if (!value) return; const dt = document.createElement('dt'); dt.textContent = name; const dd = document.createElement('dd'); dd.textContent = value; dl.append(dt, dd); };
    field('From', m.from.name ? m.from.name + ' <' + m.from.address + '>' : m.from.address);
    field('To', m.to.join(', ')); field('Cc', m.cc.join(', ')); field('Date', m.date || m.internalDate);
    field('Subject', m.subject || '(no subject)'); field('Labels', m.labelIds.join(', '));
    field('Attachments', m.attachments.map((a) => (a.filename || a.mimeType) + (a.size != null ? ' (' + n(a.size) + ' bytes)' : '')).join(', '));
    if (m.parseError) field('Parse problems', m.parseError);
    const stored = m.attachments.filter((a) => a.stored);
    if (stored.length) {
      // Fetched with the key, saved from a blob: the bytes are never rendered in this page's origin.
      const dt = document.createElement('dt'); dt.textContent = 'Download'; const dd = document.createElement('dd');
      for (const a of stored) {
        const b = document.createElement('button'); b.type = 'button'; b.textContent = a.filename || (a.partId ? 'part ' + a.partId : 'the message itself');
        b.onclick = async () => {
          try {
            const res = await fetch('/messages/' + encodeURIComponent(account) + '/' + encodeURIComponent(id) + '/attachments/' + encodeURIComponent(a.partId || 'root'), { headers: { authorization: 'Bearer ' + key } });
            if (!res.ok) throw new Error((await res.json()).error.message);
            // As bytes, whatever type the sender gave them: a blob URL of text/html would render in this origin.
            const url = URL.createObjectURL(new Blob([await res.arrayBuffer()], { type: 'application/octet-stream' }));
            const link = document.createElement('a'); link.href = url; link.download = a.filename || 'part-' + a.partId; link.click();
            setTimeout(() => URL.revokeObjectURL(url), 60000);
          } catch (err) { say(err.message); }
        };
        dd.append(b, ' ');
      }
      dl.append(dt, dd);
    }
    reader.appendChild(dl);
    if (m.bodyHtml) {
      const frame = document.createElement('iframe');
      frame.setAttribute('sandbox', '');
      frame.setAttribute('referrerpolicy', 'no-referrer');
      frame.title = 'message body';
      frame.srcdoc = '<meta http-equiv="Content-Security-Policy" content="' + FRAME_CSP + '"><meta name="referrer" content="no-referrer"><meta http-equiv="x-dns-prefetch-control" content="off">' + m.bodyHtml;
      reader.appendChild(frame);
    } else {
      const pre = document.createElement('pre'); pre.textContent = m.bodyText ?? '(no body stored: format ' + m.format + ')'; reader.appendChild(pre);
    }
  } catch (err) { say(err.message); }
}
$('#search').onsubmit = (ev) => { ev.preventDefault(); search(false); };
$('#more').onclick = () => search(true);
$('#account').value = sessionStorage.getItem('gmail-lake-account') || '';
$('#login').onsubmit = (ev) => { ev.preventDefault(); key = $('#key').value.trim(); sessionStorage.setItem('gmail-lake-key', key); closed.clear(); mirrorsAt = 0; refresh(); codecSession(); };
$('#key').value = key;
refresh();
codecSession();
setInterval(refresh, 2000);
</script>
</body>
</html>`;
}
