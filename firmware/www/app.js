/* dingate web page: one file, no framework, no build step, no external requests.
   Everything that comes from the device is data: the DOM is built with createElement/textContent
   only (never innerHTML). Strings go through t(k, {params}); the catalogues are www/lang-<code>.json (one per language, same
   keys in each: tests/integration/test_page_i18n.py checks it), only the chosen one is loaded. */
'use strict';
(() => {
  const D = document;
  const $ = (s, r = D) => r.querySelector(s);
  const $$ = (s, r = D) => [...r.querySelectorAll(s)];

  /* ---------- language ---------- */
  const LANGS = { en: 'English', fr: 'Français', nl: 'Nederlands' };
  let L = {}; // the strings of the language shown (www/lang-<code>.json)
  let lang = 'en';
  function pickLang() {
    let s = null;
    try { s = localStorage.getItem('lang'); } catch { /* private mode */ }
    if (LANGS[s]) return s;
    for (const l of navigator.languages || [navigator.language || '']) {
      const k = String(l).slice(0, 2).toLowerCase();
      if (LANGS[k]) return k;
    }
    return 'en';
  }
  async function loadLang(k) {
    let d = null;
    try { const r = await fetch('/static/lang-' + k + '.json'); if (r.ok) d = await r.json(); } catch { /* offline */ }
    if (!d && k !== 'en') return loadLang('en');
    L = d || {};
    lang = k;
    D.documentElement.lang = k;
  }
  const has = (k) => k in L;
  // Intl locale: English dates as en-GB (day first, 24 h), not US
  const loc = () => (lang === 'en' ? 'en-GB' : lang);
  const t = (k, v) => {
    let s = L[k] ?? k;
    if (v) s = s.replace(/\{(\w+)\}/g, (m, n) => (v[n] ?? m));
    return s;
  };
  const fmtCache = {};
  const nfmt = (d) => fmtCache[lang + d] || (fmtCache[lang + d] = new Intl.NumberFormat(loc(), { maximumFractionDigits: d }));
  const num = (x, d = 1) => (typeof x === 'number' && isFinite(x) ? nfmt(d).format(x) : '—');
  const withUnit = (x, u, d) => (typeof x === 'number' ? num(x, d) + (u ? '\u202f' + u : '') : '—');
  function power(w) {
    if (typeof w !== 'number') return '—';
    return Math.abs(w) >= 1000 ? withUnit(w / 1000, 'kW', 2) : withUnit(w, 'W', 0);
  }
  function when(ts) {
    if (!ts) return '—';
    const o = { dateStyle: 'short', timeStyle: 'medium' };
    try { return new Intl.DateTimeFormat(loc(), { ...o, timeZone: S.tz }).format(ts * 1000); } catch {
      return new Intl.DateTimeFormat(loc(), o).format(ts * 1000);
    }
  }
  function duration(s) {
    if (typeof s !== 'number') return '—';
    if (s < 60) return Math.round(s) + '\u202fs';
    const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return (d ? d + '\u202f' + t('u.d') + ' ' : '') + (d || hh ? hh + '\u202f' + t('u.h') + ' ' : '') + m + '\u202f' + t('u.min');
  }

  /* ---------- DOM helpers ---------- */
  function add(e, kids) {
    for (const k of kids) {
      if (k == null || k === false) continue;
      if (Array.isArray(k)) add(e, k);
      else e.append(k instanceof Node ? k : String(k));
    }
  }
  // put/addTo: replace/append children, skipping null/false and flattening arrays
  const put = (e, ...k) => { e.replaceChildren(); add(e, k); return e; };
  const addTo = (e, ...k) => { add(e, k); return e; };
  function setA(e, a) {
    for (const k in a) {
      const v = a[k];
      if (v == null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'value' || k === 'checked' || k === 'hidden' || k === 'disabled') e[k] = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
  }
  function h(tag, a, ...kids) {
    const e = D.createElement(tag);
    add(e, kids); // children first so that a select's value can be set
    if (a) setA(e, a);
    return e;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function sv(tag, a, ...kids) {
    const e = D.createElementNS(SVGNS, tag);
    add(e, kids);
    if (a) setA(e, a);
    return e;
  }
  const icon = (d, c = 'ic') => sv('svg', { viewBox: '0 0 24 24', class: c, 'aria-hidden': 'true' }, sv('path', { d, 'fill-rule': 'evenodd' }));
  const btn = (action, label, a = {}) => h('button', { type: 'button', 'data-action': action, class: 'btn', ...a }, label);
  const card = (title, ...kids) => h('section', { class: 'card' }, title && h('h2', null, title), kids);
  const kv = (rows) => h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
  const profName = (p) => (has('prof.' + p) ? t('prof.' + p) : p); // a device profile's name, else its key
  const badge = (st) => h('span', { class: 'badge b-' + (st || 'none') }, t('st.' + st) === 'st.' + st ? String(st) : t('st.' + st));

  let toastTimer;
  function toast(msg, bad) {
    const el = $('#toast');
    if (!el) return;
    el.textContent = msg;
    el.className = 'toast show' + (bad ? ' bad' : '');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.className = 'toast'; }, 4000);
  }

  function confirmBox(title, text, okLabel, extra) {
    return new Promise((res) => {
      const ok = btn('confirm', okLabel || t('b.ok'), { class: 'btn danger' });
      const no = btn('cancel', t('b.cancel'));
      const d = h('dialog', { class: 'dlg', 'aria-labelledby': 'dlg-t' },
        h('h2', { id: 'dlg-t' }, title), h('p', null, text), extra, h('div', { class: 'row' }, no, ok));
      const done = (v) => { d.close(); d.remove(); res(v); };
      ok.onclick = () => done(true);
      no.onclick = () => done(false);
      d.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
      addTo(D.body, d);
      d.showModal();
      no.focus();
    });
  }

  /* ---------- forms ---------- */
  const fid = (p, name) => p + '-' + name.replace(/[^\w]+/g, '-').replace(/-$/, '');
  // fld(prefix, name, label, {type, value, opts:[[v,label]], hint, a:{attrs}})
  function fld(p, name, label, o = {}) {
    const id = fid(p, name);
    let c;
    if (o.opts) {
      c = h('select', { id, name, ...o.a }, o.opts.map((x) => (Array.isArray(x) ? h('option', { value: x[0] }, x[1]) : h('option', { value: x }, x))));
    } else {
      c = h('input', { id, name, type: o.type || 'text', ...o.a });
    }
    const hint = o.hint && h('small', { class: 'hint', id: id + '-h' }, o.hint);
    if (hint) c.setAttribute('aria-describedby', id + '-h');
    if (o.type === 'checkbox') {
      c.checked = !!o.value;
      return h('div', { class: 'f chk' }, c, h('label', { for: id }, label), hint);
    }
    if (o.value != null) c.value = o.value;
    let eye;
    if (o.type === 'password') {
      eye = h('button', { type: 'button', class: 'eye', 'data-action': 'show-password', 'aria-label': t('b.show'), 'aria-pressed': 'false' }, icon('M12 5C6.5 5 2.7 9.3 1.5 12c1.2 2.7 5 7 10.5 7s9.3-4.3 10.5-7C21.3 9.3 17.5 5 12 5zm0 3a4 4 0 1 1 0 8 4 4 0 0 1 0-8zm0 2a2 2 0 1 0 0 4 2 2 0 0 0 0-4z'));
      eye.onclick = () => {
        const vis = c.type === 'password';
        c.type = vis ? 'text' : 'password';
        eye.setAttribute('aria-pressed', String(vis));
      };
    }
    return h('div', { class: 'f' }, h('label', { for: id }, label), eye ? h('div', { class: 'pw' }, c, eye) : c, hint);
  }
  function setPath(o, name, v) {
    const k = name.match(/[^.[\]]+/g);
    for (let i = 0; i < k.length - 1; i++) {
      if (o[k[i]] == null) o[k[i]] = /^\d+$/.test(k[i + 1]) ? [] : {};
      o = o[k[i]];
    }
    o[k[k.length - 1]] = v;
  }
  function collect(form) {
    const o = {};
    for (const e of form.elements) {
      if (!e.name || e.tagName === 'FIELDSET' || e.tagName === 'BUTTON' || e.type === 'file' || e.matches(':disabled')) continue;
      let v;
      if (e.type === 'checkbox') v = e.checked;
      else if (e.type === 'number' || e.dataset.n) {
        if (e.value.trim() === '') continue;
        v = Number(e.value); // data-mul: minutes typed, whole seconds sent (seconds, ms)
        if (e.dataset.mul) v = Math.round(v * e.dataset.mul);
      } else v = e.value;
      setPath(o, e.name, v);
    }
    return o;
  }
  function clearErr(form) {
    $$('.err', form).forEach((e) => e.remove());
    $$('[aria-invalid]', form).forEach((e) => e.removeAttribute('aria-invalid'));
  }
  // the form's element for a field path, else for its nearest parent path: an error on
  // "tariffs.0.periods.0.windows.1" belongs to the input "tariffs.0.periods.0.windows"
  function fieldEl(form, f) {
    let el = null;
    while (form && f && !(el = [...form.elements].find((x) => x.name === f))) {
      const m = f.match(/^(.+)(\.[^.[\]]+|\[\d+\])$/);
      f = m && m[1];
    }
    return el;
  }
  // a field's label: its label in the form, else built from the path ("meters[1].address" -> "Meter 2 — Address")
  function fieldLabel(f, form) {
    const el = fieldEl(form, f);
    const lb = el && (el.id && el.tagName !== 'FIELDSET' ? $(`label[for="${CSS.escape(el.id)}"]`, form) : $('legend', el));
    if (lb) return lb.textContent;
    const out = [];
    for (const p of String(f).match(/[^.[\]]+|\[\d+\]/g) || []) {
      if (p[0] === '[') out.push((out.pop() || '') + ' ' + (Number(p.slice(1, -1)) + 1));
      else out.push(has('f.' + p) ? t('f.' + p) : p);
    }
    return out.join(' — ');
  }
  // the words of a refused request: its code and params in the reader's language (err.<code>),
  // else a translated generic text (the server's own text only in English)
  function errText(e, form) {
    const field = e.field ? fieldLabel(e.field, form) : '';
    if (e.code && has('err.' + e.code)) {
      const p = { ...(e.params || {}), field }, el = e.field && fieldEl(form, e.field);
      const mul = (el && Number(el.dataset && el.dataset.mul)) || 1; // the bounds in the unit typed
      if (p.other) p.other = fieldLabel(p.other, form);
      for (const k in p) if (typeof p[k] === 'number') p[k] = num(p[k] / mul, 3);
      return t('err.' + e.code, p);
    }
    if (lang === 'en' && e.srv) return e.srv;
    if (e.status === 400) return field ? t('err.invalid', { field }) : t('err.bad');
    return has('e.' + e.status) ? t('e.' + e.status) : e.srv ? t('e.http', { s: e.status }) : e.message;
  }
  function showErr(form, err) {
    const msg = h('small', { class: 'err', role: 'alert', 'data-field': err.field || null }, (err.status && err.field ? errText(err, form) : err.message) || String(err));
    let el = fieldEl(form, err.field);
    if (!el) el = $('input[type=file]', form); // a field of an uploaded file: next to the file input
    if (!el) { form.prepend(msg); msg.scrollIntoView({ block: 'nearest' }); return; }
    const det = el.closest('details');
    if (det) det.open = true;
    const box = el.tagName === 'FIELDSET' ? el : el.closest('.f') || el.parentNode;
    addTo(box, msg);
    if (el.id) { msg.id = el.id + '-err'; el.setAttribute('aria-errormessage', msg.id); }
    el.setAttribute('aria-invalid', 'true');
    if (el.focus) el.focus();
  }
  // onSubmit(form, async (data, form) => ...): errors land next to the named field; input is kept
  function onSubmit(form, fn) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErr(form);
      const b = ev.submitter || $('[type=submit]', form);
      if (b) b.disabled = true;
      try { await fn(collect(form), form); } catch (e) { if (!e.gone) showErr(form, e); } finally { if (b) b.disabled = false; }
    });
    return form;
  }
  const submit = (action, label) => h('button', { type: 'submit', class: 'btn pri', 'data-action': action }, label);

  /* ---------- API ---------- */
  const S = { me: null, csrf: '', tz: undefined, meters: [], left: [] };
  const RANK = { tenant: 0.5, user: 1, installer: 2, admin: 3 };
  const can = (r) => (RANK[S.me && S.me.role] || 0) >= RANK[r];

  // One request at a time: the gateway loads API modules on demand and has little heap.
  let queue = Promise.resolve();
  function api(...a) {
    const r = queue.then(() => call(...a));
    queue = r.catch(() => {});
    return r;
  }
  const ONCE = ['/api/me/password', '/api/system/time']; // writes not sent twice: see call()
  async function call(method, path, body, ctype, tries = 0) {
    const o = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET') {
      o.headers['Content-Type'] = ctype || 'application/json';
      o.headers['X-CSRF-Token'] = S.csrf || '';
      o.body = ctype ? body : JSON.stringify(body === undefined ? {} : body);
    }
    const ac = new AbortController(); // a request lost with the Wi-Fi must not block the queue
    const timer = setTimeout(() => ac.abort(), 45000);
    o.signal = ac.signal;
    let r, txt;
    try {
      r = await fetch(path, o);
      txt = await r.text();
    } catch {
      throw Object.assign(new Error(t('e.net')), { status: 0 });
    } finally { clearTimeout(timer); }
    let d = null;
    try { d = txt ? JSON.parse(txt) : null; } catch { d = null; }
    if (r.ok) return d;
    // busy (the heap short for a moment): again when the gateway says, for a read or a write
    // that does the same when repeated (not a password change: the old password may be gone;
    // not the clock: it would be set late)
    if (r.status === 503 && (method === 'GET' || method === 'PUT' && !ONCE.includes(path)) && tries < 3) {
      await new Promise((ok) => setTimeout(ok, Math.min(+r.headers.get('Retry-After') || 1, 5) * 1000));
      return call(method, path, body, ctype, tries + 1);
    }
    const e = new Error(t('e.http', { s: r.status }));
    e.status = r.status;
    e.srv = d && typeof d.error === 'string' && d.error;
    e.field = d && d.field;
    e.code = d && d.code;
    e.params = d && d.params;
    e.data = d || {};
    e.message = errText(e);
    if (r.status === 401 && path !== '/api/login' && S.me) {
      e.gone = true;
      S.me = null;
      showLogin(t('login.expired'));
    }
    throw e;
  }
  const get = (p) => api('GET', p);
  // opt(path): the data, or {_err} for a failure other than a lost session (so one card can fail alone)
  const opt = (p) => get(p).then((d) => d || {}, (e) => { if (e.gone) throw e; return { _err: e }; });
  // a feature this board leaves out (GET /api/status features_left_out): its page, tab and
  // forms are not shown (its API answers 404 "left_out")
  const gone = (f) => S.left.includes(f);

  /* ---------- shell, navigation ---------- */
  const IC = {
    home: 'M3 11l9-8 9 8v10h-6v-6H9v6H3z',
    readings: 'M4 20V11h4v9zm6 0V4h4v16zm6 0v-7h4v7z',
    meters: 'M5 2h14v20H5zM8 5v6h8V5zm0 9v2h3v-2z',
    genset: 'M13 2L4 14h7l-1 8 9-12h-7z',
    network: 'M12 21l-3-3a4 4 0 0 1 6 0zM5 14a10 10 0 0 1 14 0l-2 2a7 7 0 0 0-10 0zM1 10a15 15 0 0 1 22 0l-2 2A12 12 0 0 0 3 12z',
    system: 'M3 6h10v2H3zm14 0h4v2h-4zM13 3h4v8h-4zM3 16h4v2H3zm8 0h10v2H11zM7 13h4v8H7z',
    events: 'M3 5h3v3H3zm5 0h13v3H8zm-5 6h3v3H3zm5 0h13v3H8zm-5 6h3v3H3zm5 0h13v3H8z',
    users: 'M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm-8 9c0-4.5 3.5-7 8-7s8 2.5 8 7z',
    more: 'M4 6h16v2H4zm0 5h16v2H4zm0 5h16v2H4z',
  };
  const PAGES = [['home', 'tenant'], ['readings', 'tenant'], ['meters', 'installer'], ['genset', 'installer'],
    ['network', 'installer'], ['system', 'installer'], ['events', 'installer'], ['users', 'admin']];
  const cur = { gen: 0, timers: [], closers: [] };
  const alive = (g) => g === cur.gen;
  function stopPage() {
    cur.gen++;
    cur.timers.forEach(clearTimeout);
    cur.timers = [];
    (cur.closers || []).forEach((f) => f());
    cur.closers = [];
  }
  // the PRG button's Wi-Fi setup window, while open: a note on top of the page (pushed by /api/live)
  function setupNote(left) {
    let n = $('#setup-note');
    if (left == null) { if (n) n.remove(); return; }
    if (!n) { n = h('p', { id: 'setup-note', class: 'note', role: 'status' }); $('#main').prepend(n); }
    n.textContent = t('prg.note', { t: duration(left) });
  }
  // live(on, ms): the device pushes readings/genset/status (Server-Sent Events, GET /api/live) while
  // this page is shown; when the stream is refused (too many clients) or keeps failing, the page
  // fetches the same snapshot every ms instead (after on.poll(), if given). #main[data-live] says
  // which ('sse' | 'poll').
  function live(on, ms) {
    const g = cur.gen, m = $('#main');
    let es = null, fails = 0;
    const close = () => { if (es) { es.close(); es = null; } };
    cur.closers.push(close);
    const snapshot = async () => { // what the stream would have pushed, in one request
      if (on.poll) await on.poll();
      const x = await get('/api/live');
      if (!alive(g) || !x) return;
      if (on.readings) on.readings(x.readings);
      if (x.genset && on.genset) on.genset(x.genset);
      setupNote((x.status || {}).setup_left_s);
    };
    const fallback = () => { close(); if (!alive(g)) return; m.dataset.live = 'poll'; poll(snapshot, ms); };
    if (!window.EventSource) return fallback();
    es = new EventSource('/api/live');
    const hear = (k) => es.addEventListener(k, (e) => {
      fails = 0;
      m.dataset.live = 'sse';
      if (!alive(g) || !on[k]) return;
      try { on[k](JSON.parse(e.data)); } catch { /* a bad message is skipped */ }
    });
    ['readings', 'genset', 'status'].forEach(hear);
    es.addEventListener('status', (e) => { try { setupNote(JSON.parse(e.data).setup_left_s); } catch { /* skipped */ } });
    es.addEventListener('end', () => { close(); get('/api/me').catch(() => {}); }); // session over: the login shows
    es.onerror = () => { if (!es || es.readyState === 2 || ++fails > 2) fallback(); };
  }
  // poll(fn, ms): run fn now and every ms while this page is shown (skipped while the tab is hidden)
  function poll(fn, ms) {
    const g = cur.gen;
    const run = async () => {
      if (!alive(g)) return;
      if (!D.hidden) { try { await fn(); } catch { /* shown by fn */ } }
      if (alive(g)) cur.timers.push(setTimeout(run, ms));
    };
    run();
  }
  const later = (fn, ms) => cur.timers.push(setTimeout(fn, ms));

  function langBar() {
    return h('div', { class: 'langs', role: 'group', 'aria-label': t('lang') }, Object.keys(LANGS).map((k) => {
      const b = btn('lang-' + k, k.toUpperCase(), { class: 'lb', lang: k, 'aria-pressed': String(k === lang), title: LANGS[k] });
      b.onclick = () => setLang(k);
      return b;
    }));
  }
  async function setLang(k) {
    await loadLang(k);
    try { localStorage.setItem('lang', k); } catch { /* ignore */ }
    if (S.me && !S.me.must_change) shell(); else if (S.me) showChange(); else showLogin();
  }
  function route() {
    const [p, sub] = (location.hash.replace(/^#\/?/, '') || 'home').split('/');
    const pg = PAGES.find((x) => x[0] === p && can(x[1]) && !gone(x[0]));
    return [pg ? p : p === 'account' ? p : 'home', sub];
  }
  async function logout() {
    try { await api('POST', '/api/logout'); } catch { /* already out */ }
    S.me = null;
    showLogin();
  }
  function shell() {
    stopPage();
    const app = $('#app');
    const [page] = route();
    const who = h('a', { href: '#/account', class: 'who', 'data-action': 'account', title: t('nav.account') }, S.me.user, h('small', null, t('role.' + S.me.role)));
    const out = btn('logout', [icon('M10 3H4v18h6v-2H6V5h4zm6 4l-1.4 1.4 2.6 2.6H9v2h8.2l-2.6 2.6L16 17l5-5z'), h('span', { class: 'lbl' }, t('b.logout'))], { class: 'btn ghost', title: t('b.logout') });
    out.onclick = logout;
    // phones: at most 5 slots in the bottom bar, the rest behind "More" (a menu); wide screens: a side column
    const pages = PAGES.filter((x) => can(x[1]) && !gone(x[0])).map((x) => x[0]);
    const nMain = pages.length > 5 ? 4 : pages.length;
    const link = (p) => h('a', { href: '#/' + p, 'data-page': p, 'aria-current': p === page ? 'page' : null }, icon(IC[p]), h('span', null, t('nav.' + p)));
    const menu = h('div', { class: 'menu', id: 'nav-menu' }, pages.slice(nMain).map(link));
    const more = nMain < pages.length && btn('nav-more', [icon(IC.more), h('span', null, t('nav.more'))], { class: 'more', 'aria-expanded': 'false', 'aria-controls': 'nav-menu' });
    const nav = h('nav', { class: 'tabs', 'aria-label': t('nav') }, pages.slice(0, nMain).map(link), more, menu);
    if (more) {
      more.onclick = () => { const o = !nav.classList.contains('open'); nav.classList.toggle('open', o); more.setAttribute('aria-expanded', String(o)); };
      menu.onclick = () => { nav.classList.remove('open'); more.setAttribute('aria-expanded', 'false'); };
    }
    app.className = 'shell';
    put(app, 
      h('header', { class: 'top' }, h('span', { class: 'brand' }, 'dingate'), langBar(), who, out),
      nav, h('main', { id: 'main', tabindex: '-1' }), h('div', { id: 'toast', class: 'toast', role: 'status', 'aria-live': 'polite' }));
    show();
  }
  function show() {
    if (!S.me || S.me.must_change || !$('.tabs')) return;
    stopPage();
    const [page, sub] = route();
    $$('.tabs a').forEach((a) => (a.dataset.page === page ? a.setAttribute('aria-current', 'page') : a.removeAttribute('aria-current')));
    const mb = $('.tabs .more');
    if (mb) mb.classList.toggle('cur', !!$('#nav-menu [aria-current]'));
    const m = $('#main');
    put(m, h('h1', null, t('nav.' + page)));
    m.dataset.page = page;
    D.title = t('nav.' + page) + ' – dingate';
    PG[page](m, sub, cur.gen);
  }
  addEventListener('hashchange', show);

  // data loaders shared by pages
  const loadMeters = async () => (S.meters = (await get('/api/meters')) || []);
  const meterName = (id) => { const m = S.meters.find((x) => String(x.id) === String(id)); return m ? m.name : '#' + id; };
  const loading = () => h('p', { class: 'muted' }, t('loading'));
  function failBox(e) { return h('p', { class: 'err', role: 'alert' }, e.message); }

  /* ---------- login, password ---------- */
  function bare(...kids) {
    stopPage();
    $('#app').className = '';
    D.title = 'dingate';
    put($('#app'), h('header', { class: 'top' }, h('span', { class: 'brand' }, 'dingate'), langBar()),
      h('main', { id: 'main', class: 'narrow' }, kids), h('div', { id: 'toast', class: 'toast', role: 'status', 'aria-live': 'polite' }));
  }
  function showLogin(note) {
    S.me = null;
    const f = h('form', { id: 'login', class: 'card', novalidate: true },
      h('h1', null, t('login.title')),
      note && h('p', { class: 'note' }, note),
      fld('login', 'user', t('f.user'), { a: { autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true } }),
      fld('login', 'password', t('f.password'), { type: 'password', a: { autocomplete: 'current-password', required: true } }),
      submit('login', t('b.login')));
    let timer;
    onSubmit(f, async (d) => {
      try {
        await api('POST', '/api/login', { user: d.user.trim(), password: d.password });
      } catch (e) {
        if (e.status === 429) {
          let n = Math.ceil(e.data.retry_after_s || 30);
          const b = $('[data-action=login]', f);
          const msg = h('small', { class: 'err', role: 'alert' });
          f.prepend(msg);
          const tick = () => {
            msg.textContent = t('login.wait', { n });
            b.disabled = n > 0;
            if (n-- > 0) timer = setTimeout(tick, 1000); else msg.remove();
          };
          setTimeout(tick);
          return;
        }
        if (e.status === 401) e.message = t('login.bad');
        e.field = e.field || null;
        throw e;
      }
      clearTimeout(timer);
      await boot();
    });
    bare(f);
    $('#login-user').focus();
  }
  function pwForm(forced) {
    const f = h('form', { id: 'password-form', class: 'card', novalidate: true },
      h('h2', null, forced ? t('pw.forced') : t('pw.title')),
      forced && h('p', { class: 'note' }, t('pw.why')),
      fld('pw', 'old_password', t('f.old_password'), { type: 'password', a: { autocomplete: 'current-password', required: true } }),
      fld('pw', 'password', t('f.new_password'), { type: 'password', a: { autocomplete: 'new-password', required: true } }),
      fld('pw', 'password2', t('f.password2'), { type: 'password', a: { autocomplete: 'new-password', required: true } }),
      h('div', { class: 'row' }, submit('change-password', t('b.change_password')), forced && btn('logout', t('b.logout'), { class: 'btn ghost' })));
    const lo = $('[data-action=logout]', f);
    if (lo) lo.onclick = logout;
    onSubmit(f, async (d) => {
      if (d.password !== d.password2) throw Object.assign(new Error(t('pw.mismatch')), { field: 'password2' });
      await api('PUT', '/api/me/password', { old_password: d.old_password, password: d.password });
      toast(t('pw.done'));
      if (forced) await boot(); else f.reset();
    });
    return f;
  }
  function showChange() { bare(pwForm(true)); $('#pw-old_password').focus(); }

  async function boot() {
    try {
      const me = await get('/api/me');
      S.me = me;
      S.csrf = me.csrf || '';
    } catch (e) {
      if (e.status === 401 || e.status === 403) return showLogin();
      const b = btn('retry', t('b.retry'));
      b.onclick = boot;
      return bare(h('div', { class: 'card' }, h('p', { class: 'err' }, e.message), b));
    }
    if (S.me.must_change) return showChange();
    try { // the device's time zone for every date shown (every role), the site name for export file names
      const [st, ss] = await Promise.all([opt('/api/status'), can('user') ? opt('/api/settings') : {}]);
      S.tz = ss.timezone || st.timezone || S.tz;
      S.location = ss.location;
      S.left = st.features_left_out || [];
    } catch { return; }
    shell();
  }

  /* ---------- pages ---------- */
  const PG = {};
  const ROLES = ['grid', 'pv', 'battery', 'genset', 'load', 'sub'];
  // the main quantities first, in this order; then the rest of the catalogue in its order
  const QN = ['voltage_l1', 'voltage_l2', 'voltage_l3', 'current_l1', 'current_l2', 'current_l3', 'power_w', 'frequency_hz', 'power_factor', 'import_kwh', 'export_kwh', 'soc_pct'];
  // the firmware's quantities catalogue (name -> unit, in its order), written by the build
  // from gateway/core/quantities.py as www/quantities.json
  let QU = {}, QALL = QN;
  async function loadQuantities() {
    try {
      const r = await fetch('/static/quantities.json');
      if (!r.ok) return;
      const cat = await r.json();
      QU = Object.fromEntries(cat);
      QALL = QN.concat(cat.map(([q]) => q).filter((q) => !QN.includes(q)));
    } catch { /* offline: units from the names' suffixes */ }
  }
  const qOrder = (v) => QALL.filter((q) => q in v).concat(Object.keys(v).filter((q) => !QALL.includes(q)));
  const qBase = (q) => q.replace(/_l[123]$/, '');
  const qLabel = (q) => { const b = qBase(q), k = 'q.' + b; return has(k) ? t(k) + (b !== q ? ' ' + q.slice(-2).toUpperCase() : '') : q.replace(/_/g, ' '); };
  // the unit of a quantity not in QU from its name's suffix (battery_v -> V): a unit is always shown
  const SUF = [[/_kwh$/, 'kWh'], [/_wh$/, 'Wh'], [/_kw$/, 'kW'], [/_w$/, 'W'], [/_var$/, 'var'], [/_va$/, 'VA'], [/_v$/, 'V'], [/_a$/, 'A'], [/_hz$/, 'Hz'], [/_(pct|percent)$/, '%'], [/_c$/, '°C'], [/_m3$/, 'm³'], [/_s$/, 's']];
  const qUnit = (q) => QU[q] ?? (SUF.find(([r]) => r.test(q)) || [0, ''])[1];
  const qDec = (q) => { const u = qUnit(q); return u === 'kWh' ? 2 : q === 'power_factor' ? 3 : u === 'W' || u === 'var' || u === 'VA' ? 0 : 1; };
  const qVal = (q, v) => { const u = qUnit(q); return u === 'W' ? power(v) : withUnit(v, u, qDec(q)); };

  /* Home: energy flow, battery, genset, live meters */
  // flowOf(meters, readings, genRuns): the energy balance in W from the meters' roles.
  // Signs of power_w: grid > 0 imports, battery > 0 charges, pv and genset produce (either sign).
  // Sources = grid import + PV + battery discharge + genset; the house takes what the other sinks
  // (export, battery charge) leave: house = sources - export - charge, so the numbers add up.
  // Meters with role "load"/"sub" are parts of the house (listed, the rest is "other"); without any
  // source meter the house is the sum of the "load" meters. A running generator without its own
  // meter gets the power the measured loads need (estimated).
  function flowOf(ms, rd, genRuns) {
    const sum = {}, has = {}, parts = [];
    for (const mt of ms) {
      if (mt.enabled === false) continue;
      const role = mt.role || 'sub', r = rd[mt.id] || {}, v = r.values || {};
      has[role] = true;
      if (!(r.status === 'ok' || r.status === 'partial') || typeof v.power_w !== 'number') continue;
      const w = role === 'pv' || role === 'genset' ? Math.abs(v.power_w) : v.power_w;
      sum[role] = (sum[role] || 0) + w;
      if (role === 'load' || role === 'sub') parts.push({ id: mt.id, name: mt.name, role, w });
    }
    const f = { grid: sum.grid, pv: sum.pv, battery: sum.battery, genset: sum.genset, has, parts, est: {} };
    const g = sum.grid || 0, b = sum.battery || 0;
    let gen = sum.genset || 0;
    const measured = sum.load;
    if (genRuns && !has.genset && measured != null) { // unmetered generator: what the loads need
      gen = Math.max(0, measured + Math.max(-g, 0) + Math.max(b, 0) - Math.max(g, 0) - (sum.pv || 0) - Math.max(-b, 0));
      f.genset = gen;
      f.est.genset = true;
    }
    f.in = Math.max(g, 0) + (sum.pv || 0) + Math.max(-b, 0) + gen;
    const sinks = Math.max(-g, 0) + Math.max(b, 0);
    if (has.grid || has.pv || has.battery || f.genset != null) {
      f.load = Math.max(0, f.in - sinks);
      f.est.load = measured == null;
    } else f.load = measured;
    f.out = sinks + (f.load || 0);
    const known = parts.reduce((a, x) => a + x.w, 0);
    f.other = f.load != null && parts.length ? Math.max(0, f.load - known) : null;
    return f;
  }
  PG.home = async (m, sub, g) => {
    const nodes = {}, lines = {};
    const POS = { pv: [25, 13], genset: [75, 13], grid: [14, 55], load: [86, 55], battery: [50, 88] };
    const svg = sv('svg', { viewBox: '0 0 100 100', class: 'lines', 'aria-hidden': 'true', preserveAspectRatio: 'none' });
    for (const r in POS) {
      lines[r] = sv('line', { x1: POS[r][0], y1: POS[r][1], x2: 50, y2: 50 });
      addTo(svg, lines[r]);
      nodes[r] = { v: h('b', null, '—'), sub: h('small', null, '') };
      nodes[r].el = h('div', { class: 'node n-' + r, id: 'flow-' + r, style: `left:${POS[r][0]}%;top:${POS[r][1]}%` }, h('span', null, t('flow.' + r)), nodes[r].v, nodes[r].sub);
    }
    const flowEl = h('div', { class: 'flow', id: 'flow', role: 'group', 'aria-label': t('home.flow') }, svg, Object.values(nodes).map((n) => n.el), h('div', { class: 'hub' }, icon(IC.home)));
    const partsEl = h('ul', { class: 'parts', id: 'flow-parts' });
    const soc = h('b', { class: 'big' }, '—');
    const gauge = h('div', { class: 'gauge', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': t('q.soc_pct') }, h('i'));
    const batt = card(t('home.battery'), h('div', { class: 'socrow' }, gauge, soc));
    batt.hidden = true;
    const gen = card(t('nav.genset'));
    gen.hidden = true;
    const list = h('div', { class: 'grid' });
    const hint = h('p', { class: 'muted', hidden: true }, t('home.norole'));
    const upd = h('p', { class: 'muted small', 'aria-live': 'off' });
    addTo(m, card(null, flowEl, partsEl, hint), h('div', { class: 'grid two' }, batt, gen), h('h2', { class: 'sec' }, t('home.meters')), list, upd);
    let n = 0, gs = null, rd = null;
    try { await loadMeters(); } catch (e) { if (!e.gone) addTo(m, failBox(e)); return; }
    if (!alive(g)) return;
    const DIR = { grid: ['home.import', 'home.export'], battery: ['home.charge', 'home.discharge'] };
    const drawFlow = () => {
      if (!rd) return; // nothing to say before the first readings
      const f = flowOf(S.meters, rd, !!(gs && gs.relay));
      for (const r in nodes) {
        const w = f[r], has = typeof w === 'number', nd = nodes[r];
        nd.v.textContent = has && !(f.est[r] && w < 5) ? power(Math.abs(w)) : '—';
        nd.el.dataset.w = has ? String(Math.round(w)) : '';
        const idle = !has || Math.abs(w) < 5;
        nd.sub.textContent = f.est[r] ? t(r === 'genset' && w < 5 ? 'gs.s.running' : 'home.est') : !has ? (f.has[r] ? t('st.offline') : '') : idle ? '' : DIR[r] ? t(w > 0 ? DIR[r][0] : DIR[r][1]) : r === 'genset' ? t('gs.s.running') : '';
        nd.el.classList.toggle('none', !has);
        // the generator appears when it has a meter or runs; the other nodes are always drawn
        const shown = r !== 'genset' || f.has.genset || (gs && gs.relay);
        nd.el.hidden = !shown;
        lines[r].style.display = shown ? '' : 'none';
        const inward = r === 'grid' || r === 'battery' ? w < 0 === (r === 'battery') : r !== 'load';
        lines[r].setAttribute('class', idle ? 'idle' : inward ? 'in' : 'out');
      }
      flowEl.dataset.in = String(Math.round(f.in));
      flowEl.dataset.out = String(Math.round(f.out));
      put(partsEl, f.parts.length > 0 && f.load != null && [...f.parts.map((x) => [x.name, x.w]), f.other != null && [t('flow.other'), f.other]].filter(Boolean).map(([nm, w]) =>
        h('li', null, h('span', null, nm), h('i', { style: `width:${f.load > 0 ? Math.min(100, Math.max(0, w) / f.load * 100) : 0}%` }), h('b', null, power(w)))));
      hint.hidden = !!Object.keys(f.has).some((k) => k !== 'sub');
    };
    const onReadings = (r) => {
      rd = r || {};
      let socV = null, last = 0;
      for (const mt of S.meters) {
        const x = rd[mt.id] || {}, v = x.values || {};
        if (x.ts > last) last = x.ts;
        if (typeof v.soc_pct === 'number' && (socV == null || mt.role === 'battery')) socV = v.soc_pct;
      }
      drawFlow();
      batt.hidden = socV == null;
      if (socV != null) {
        soc.textContent = withUnit(socV, '%', 0);
        gauge.firstChild.style.width = Math.max(0, Math.min(100, socV)) + '%';
        gauge.className = 'gauge' + (socV < 20 ? ' low' : socV < 50 ? ' mid' : '');
        gauge.setAttribute('aria-valuenow', String(Math.round(socV)));
      }
      put(list, ...S.meters.map((mt) => meterLive(mt, rd[mt.id] || {})));
      if (!S.meters.length) addTo(list, h('p', { class: 'muted' }, t('meters.none')));
      upd.textContent = last ? t('home.updated', { t: when(last) }) : '';
    };
    const onGenset = (x) => {
      gs = { ...(gs || {}), ...x };
      gen.hidden = false;
      put(gen, h('h2', null, t('nav.genset')), gensetState(gs, true));
      drawFlow();
    };
    try { if (!gone('genset')) onGenset(await get('/api/genset')); } catch (e) { if (e.gone) return; }
    if (!alive(g)) return;
    live({
      readings: onReadings, genset: onGenset,
      poll: async () => { if (n++ % 20 === 19) await loadMeters(); },
    }, 3000);
    onReadings(await get('/api/readings'));
  };
  function meterLive(mt, r) {
    const v = r.values || {};
    const keys = qOrder(v);
    return h('article', { class: 'card meter', 'data-id': mt.id },
      h('div', { class: 'mhead' }, h('h3', null, mt.name), badge(r.status || (mt.enabled === false ? 'disabled' : 'none'))),
      typeof v.power_w === 'number' && h('p', { class: 'big' }, power(v.power_w)),
      kv(keys.filter((q) => q !== 'power_w').map((q) => [qLabel(q), qVal(q, v[q])])));
  }
  function gensetState(gs, compact) {
    const on = !!gs.relay;
    return h('div', { class: 'gstate' },
      h('div', { class: 'relay ' + (on ? 'on' : 'off'), id: 'genset-relay' }, h('span', null, t('gs.relay')), h('b', null, on ? t('gs.closed') : t('gs.open'))),
      kv([[t('gs.state'), t('gs.s.' + gs.state) === 'gs.s.' + gs.state ? String(gs.state ?? '—') : t('gs.s.' + gs.state)],
        [t('gs.mode'), t('gs.m.' + gs.mode)],
        [t('gs.reason'), h('span', { id: 'genset-reason' }, devText(gs.reason) || '—')],
        gs.running_since && [t('gs.since'), when(gs.running_since)],
        !compact && gs.run_hours != null && [t('gs.hours'), withUnit(gs.run_hours, t('u.h'), 1)],
        !compact && gs.starts != null && [t('gs.starts'), num(gs.starts, 0)],
        (gs.service_due || (!compact && gs.service_due_in_h != null)) && [t('gs.service'), h('span', { id: 'genset-service', class: gs.service_due ? 'err' : null },
          gs.service_due ? t('gs.service_due') : t('gs.service_in', { h: withUnit(gs.service_due_in_h, t('u.h'), 1) }))]]));
  }

  /* Charts (Readings page): /api/history with a step, drawn as inline SVG. Tap or drag on a chart
     (or use the arrow keys) to read a value. */
  const VIEWS = { // view: [step, span in s, quantities, kind]
    power: ['15m', 86400, ['power_w'], 'line'],
    hour: ['1h', 2 * 86400, ['import_kwh', 'export_kwh'], 'bars'],
    day: ['1d', 31 * 86400, ['import_kwh', 'export_kwh'], 'bars'],
    month: ['1mo', 365 * 86400, ['import_kwh', 'export_kwh'], 'bars'],
  };
  const STEP_S = { '15m': 900, '1h': 3600, '1d': 86400, '1mo': 30.4 * 86400 };
  function tfmt(ts, step) {
    const o = step === '1mo' ? { month: 'short', year: '2-digit' } : step === '1d' ? { day: 'numeric', month: 'short' } : { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    try { return new Intl.DateTimeFormat(loc(), { ...o, timeZone: S.tz }).format(ts * 1000); } catch { return new Intl.DateTimeFormat(loc(), o).format(ts * 1000); }
  }
  // drawChart(rows, view, from, to, width) -> <svg>: a line (power) or bars (energy in, out below
  // the axis), each bucket at its time between from and to (a gap stays a gap), drawn one unit per
  // pixel of the box so the labels keep their size
  function drawChart(rows, view, from, to, width) {
    const [step, , qs, kind] = VIEWS[view];
    const W = Math.max(280, Math.round(width || 300)), H = Math.round(Math.min(300, Math.max(170, W * 0.42))), L0 = 46, R0 = 8, T0 = 20, B0 = 22;
    const vals = rows.map((r) => qs.map((q, i) => (typeof r[q] === 'number' ? r[q] * (i ? -1 : 1) : null)));
    const flat = vals.flat().filter((x) => x != null);
    let hi = Math.max(0, ...flat), lo = Math.min(0, ...flat);
    if (hi === lo) hi = lo + 1;
    const mag = 10 ** Math.floor(Math.log10((hi - lo) / 3)), tick = [1, 2, 5, 10].map((k) => k * mag).find((x) => (hi - lo) / x <= 4);
    hi = Math.ceil(hi / tick) * tick; lo = Math.floor(lo / tick) * tick;
    const n = rows.length, secs = STEP_S[step], pw = W - L0 - R0;
    if (n) { from = Math.min(from, rows[0].ts); to = Math.max(to, rows[n - 1].ts + secs); } // whole buckets
    const xt = (ts) => L0 + (ts - from) / (to - from) * pw, bw = Math.max(1, secs / (to - from) * pw);
    const x = (i) => xt(rows[i].ts + secs / 2), y = (v) => T0 + (hi - v) / (hi - lo) * (H - T0 - B0);
    const unit = kind === 'line' ? 'W' : 'kWh';
    const big = kind === 'line' && Math.max(hi, -lo) >= 10000, scale = big ? 1000 : 1;
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart', role: 'img', tabindex: '0', 'data-n': n, 'aria-label': t('ch.' + view) });
    for (let v = lo; v <= hi + tick / 2; v += tick) {
      addTo(svg, sv('line', { x1: L0, x2: W - R0, y1: y(v), y2: y(v), class: v === 0 ? 'ax' : 'grid' }),
        sv('text', { x: L0 - 4, y: y(v) + 4, class: 'yl' }, num(v / scale + 0, tick / scale < 1 ? 1 : 0)));
    }
    addTo(svg, sv('text', { x: 2, y: 12, class: 'un' }, big ? 'kW' : unit));
    const k = Math.max(2, Math.min(6, Math.floor(pw / 90))); // time labels, ~90 px apart
    for (let i = 0; i <= k; i++) {
      const ts = from + (to - from) * i / k;
      addTo(svg, sv('text', { x: xt(ts), y: H - 6, class: i ? (i === k ? 'xl end' : 'xl') : 'xl start' }, tfmt(ts, step)));
    }
    if (kind === 'line') {
      let d = '';
      const near = (i, j) => j >= 0 && j < n && vals[j][0] != null && Math.abs(rows[j].ts - rows[i].ts) <= secs * 1.5;
      vals.forEach((v, i) => {
        if (v[0] == null) return;
        d += (near(i, i - 1) ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v[0]).toFixed(1);
        if (!near(i, i - 1) && !near(i, i + 1)) addTo(svg, sv('circle', { cx: x(i), cy: y(v[0]), r: 2.5, class: 'dot' })); // a lone point
      });
      addTo(svg, sv('path', { d, class: 'ln' }));
    } else {
      vals.forEach((v, i) => v.forEach((w, k) => {
        if (w == null || w === 0) return;
        addTo(svg, sv('rect', { x: x(i) - bw * 0.4, width: Math.max(1, bw * 0.8), y: Math.min(y(w), y(0)), height: Math.abs(y(w) - y(0)), class: k ? 'b2' : 'b1' }));
      }));
    }
    // reading a value: pointer (touch or mouse) or keys move a cursor; the value shows above the chart
    const cur = sv('line', { y1: T0, y2: H - B0, class: 'cur', visibility: 'hidden' });
    const out = h('p', { class: 'readout', 'aria-live': 'polite' }, '\u00a0');
    addTo(svg, cur);
    let at = -1;
    const pick = (i) => {
      if (!n) return;
      at = Math.max(0, Math.min(n - 1, i));
      cur.setAttribute('x1', x(at)); cur.setAttribute('x2', x(at)); cur.setAttribute('visibility', 'visible');
      const r = rows[at];
      out.textContent = tfmt(r.ts, step === '1mo' || step === '1d' ? step : '15m') + ' · ' + qs.map((q) => (typeof r[q] === 'number' ? qLabel(q) + ' ' + (kind === 'line' ? power(r[q]) : withUnit(r[q], 'kWh', 2)) : null)).filter(Boolean).join(' · ');
    };
    const fromEv = (e) => { // the bucket nearest the pointer
      const b = svg.getBoundingClientRect(), px = (e.clientX - b.left) / b.width * W;
      let best = 0;
      for (let i = 1; i < n; i++) if (Math.abs(x(i) - px) < Math.abs(x(best) - px)) best = i;
      pick(best);
    };
    svg.addEventListener('pointerdown', (e) => { fromEv(e); svg.setPointerCapture && svg.setPointerCapture(e.pointerId); });
    svg.addEventListener('pointermove', (e) => { if (e.buttons || e.pointerType === 'mouse') fromEv(e); });
    svg.addEventListener('keydown', (e) => { if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') { e.preventDefault(); pick(at < 0 ? n - 1 : at + (e.key === 'ArrowLeft' ? -1 : 1)); } });
    return [out, svg, kind === 'bars' && h('p', { class: 'legend small' }, h('i', { class: 'k1' }), t('q.import_kwh'), ' ', h('i', { class: 'k2' }), t('q.export_kwh'))];
  }
  // history of a meter, or of a group (billing groups): the members' rows summed per bucket
  async function history(sel, from, to, step) {
    const q = (id) => get(`/api/history?meter=${encodeURIComponent(id)}&from=${from}&to=${to}&step=${step}`).then((r) => r || []);
    if (!sel.startsWith('g:')) return q(sel);
    const by = {};
    for (const id of S.groups[sel.slice(2)] || []) {
      for (const r of await q(id)) {
        const o = by[r.ts] || (by[r.ts] = { ts: r.ts });
        for (const k in r) if (k !== 'ts' && typeof r[k] === 'number') o[k] = (o[k] || 0) + r[k];
      }
    }
    return Object.values(by).sort((a, b) => a.ts - b.ts);
  }
  function chartCard(g) {
    const box = h('div', { class: 'chartbox', id: 'chart' });
    const c = card(t('ch.title'));
    if (!S.meters.length) return c;
    const groups = Object.keys(S.groups || {}).filter(Boolean).sort();
    const f = h('form', { id: 'chart-form', class: 'cols', novalidate: true },
      fld('ch', 'meter', t('f.meter'), { opts: S.meters.map((x) => [x.id, x.name]).concat(groups.map((x) => ['g:' + x, t('ch.group', { g: x })])) }),
      fld('ch', 'view', t('ch.view'), { opts: Object.keys(VIEWS).map((k) => [k, t('ch.' + k)]) }));
    let seq = 0; // a newer choice wins over an answer still on its way
    let back = 0; // spans before the latest one (the arrows)
    const per = h('span', { id: 'chart-span' });
    const prev = btn('chart-prev', '‹', { 'aria-label': t('ch.prev') }), next = btn('chart-next', '›', { 'aria-label': t('ch.next') });
    prev.onclick = () => { back++; load(); };
    next.onclick = () => { back = Math.max(0, back - 1); load(); };
    const load = async () => {
      const d = collect(f), [step, span] = VIEWS[d.view], my = ++seq;
      const to = Math.ceil(Date.now() / 1000 / 900) * 900 - back * span, from = to - span, u = step === '1mo' ? step : '1d';
      next.disabled = !back;
      per.textContent = tfmt(from, u) + ' – ' + tfmt(to - 1, u);
      put(box, loading());
      try {
        const rows = await history(String(d.meter), from, to, step);
        rows.forEach((r) => { for (const k in r) if (k.endsWith('_delta')) r[k.slice(0, -6)] = r[k]; }); // consumption per bucket
        if (!alive(g) || my !== seq) return;
        put(box, rows.length ? drawChart(rows, d.view, from, to, box.clientWidth) : h('p', { class: 'muted' }, t('ch.none')));
        box.dataset.view = d.view;
      } catch (e) { if (!e.gone) put(box, failBox(e)); }
    };
    f.addEventListener('change', (e) => { if (e.target.name === 'view') back = 0; load(); });
    f.addEventListener('submit', (e) => e.preventDefault());
    addTo(c, f, h('div', { class: 'row chartnav' }, prev, per, next), box);
    load();
    return c;
  }

  /* Readings: billing and export */
  PG.readings = async (m, sub, g) => {
    try { await loadMeters(); } catch (e) { if (!e.gone) addTo(m, failBox(e)); return; }
    const bc = gone('billing') ? {} : await opt('/api/billing/config'); // billing groups: a chart per group
    S.groups = {};
    for (const [id, x] of Object.entries(bc.meters || {})) if (x && x.group) (S.groups[x.group] = S.groups[x.group] || []).push(id);
    if (!alive(g)) return;
    addTo(m, chartCard(g));
    const box = h('div', null, loading());
    const exp = card(t('exp.title'));
    addTo(m, box, exp);
    let bl;
    try { [bl] = await Promise.all([gone('billing') ? [] : opt('/api/billing'), loadMeters()]); } catch (e) { if (!e.gone) put(box, failBox(e)); return; }
    if (!alive(g)) return;
    if (gone('billing')) box.remove(); // the statements API is left out on this board
    else if (bl._err) put(box, failBox(bl._err));
    else {
      put(box, ...(Array.isArray(bl) ? bl : []).map(billCard));
      if (!bl.length) addTo(box, h('p', { class: 'muted' }, t('bill.none')));
    }
    exportForm(exp);
    if (can('user') && !gone('billing')) monthTable(m);
    if (can('user') && !gone('billing')) billTotals(m, g);
    if (can('installer') && !gone('billing')) billConfig(m, g);
  };
  function monthName(ym) {
    const [y, mo] = String(ym).split('-').map(Number);
    if (!y || !mo) return String(ym);
    return new Intl.DateTimeFormat(loc(), { month: 'short', year: 'numeric', timeZone: 'UTC' }).format(Date.UTC(y, mo - 1, 15));
  }
  // Billing (MEGA style): index = counter reading, *_kwh_delta = consumption (DIFF) of a month.
  const money = (x, cur) => {
    if (typeof x !== 'number') return '—';
    try { return new Intl.NumberFormat(loc(), { style: 'currency', currency: cur || 'EUR' }).format(x); } catch { return num(x, 2) + '\u202f' + (cur || ''); }
  };
  function billCard(b) {
    const c = b.current || {}, cm = b.current_month || {};
    const months = (b.months || []).slice(0, 11);
    const q = b.quantity || 'import_kwh', elec = q === 'import_kwh', u = elec ? 'kWh' : 'm³';
    if (!elec) return billFoot(volCard(b, q, u, months, stBtn0(b)), b);
    // electricity: counter 1 = import (Wh+), counter 2 = export (Wh-)
    const stBtn = stBtn0(b);
    // the last 12 months' peaks (a capacity tariff bills their average; its floor is its own)
    const pk = [cm, ...months].map((r) => r.peak_kw).filter((x) => typeof x === 'number').slice(0, 12);
    const head = h('tr', null, [t('bill.month'), t('bill.imp_idx'), t('bill.diff_imp'), t('bill.peak_col'), t('bill.exp_idx'), t('bill.diff_exp'), ''].map((x) => h('th', { scope: 'col' }, x)));
    const rows = months.map((r) => h('tr', { 'data-month': r.month }, h('th', { scope: 'row' }, monthName(r.month)),
      h('td', null, num(r.import_kwh, 2)), h('td', { class: 'diff' }, num(r.import_kwh_delta, 2)), h('td', { class: 'peak', title: r.peak_ts && when(r.peak_ts) }, num(r.peak_kw, 2)),
      h('td', null, num(r.export_kwh, 2)), h('td', { class: 'diff' }, num(r.export_kwh_delta, 2)),
      h('td', null, stBtn(r.month))));
    const el = card(null,
      h('div', { class: 'mhead' }, h('h2', null, billName(b))),
      !b.current && h('p', { class: 'note', 'data-role': 'first-read' }, t('bill.first_read', { t: when(b.next_read) })),
      kv([[t('bill.first'), when(b.first_init)],
        [t('bill.cur_imp'), withUnit(c.import_kwh, 'kWh', 2)], [t('bill.cur_exp'), withUnit(c.export_kwh, 'kWh', 2)],
        b.current && [t('bill.last_read'), when(c.ts)],
        b.current && [t('bill.month_imp') + ' (' + monthName(cm.month) + ')', withUnit(cm.import_kwh_delta, 'kWh', 2)],
        b.current && [t('bill.month_exp'), withUnit(cm.export_kwh_delta, 'kWh', 2)],
        cm.peak_kw != null && [t('bill.peak'), h('span', { 'data-role': 'peak' }, withUnit(cm.peak_kw, 'kW', 2) + ' · ' + when(cm.peak_ts))],
        pk.length > 1 && [t('bill.peak_avg', { n: pk.length }), h('span', { 'data-role': 'peak-avg' }, withUnit(pk.reduce((a, x) => a + x, 0) / pk.length, 'kW', 2))],
        cm.cost && [t('bill.month_cost'), money(cm.cost.total, cm.cost.currency)]]),
      b.current && h('div', { class: 'row' }, stBtn(cm.month)),
      months.length ? h('div', { class: 'tbl' }, h('table', null, h('caption', null, t('bill.caption')), h('thead', null, head), h('tbody', null, rows))) : h('p', { class: 'muted' }, t('bill.nomonths')));
    el.dataset.meter = b.meter;
    el.classList.add('bill');
    return billFoot(el, b);
  }
  // a deleted meter's billing stays readable (its statements), not reset: it reads no more
  const billName = (b) => (b.name || meterName(b.meter)) + (b.deleted ? ' (' + t('bill.deleted') + ')' : '');
  // the card's end: until when a deleted meter's billing is kept, else an installer's reset
  function billFoot(el, b) {
    if (b.deleted) addTo(el, h('p', { class: 'note', 'data-role': 'kept' }, t('bill.kept', { t: when(b.kept_until) })));
    else if (can('installer')) {
      const r = btn('reset-billing', t('bill.reset'), { class: 'btn danger', 'data-id': b.meter });
      r.onclick = async () => {
        if (!await confirmBox(t('bill.reset'), t('bill.reset_q', { n: b.name || meterName(b.meter) }), t('bill.reset_ok'))) return;
        try {
          await api('POST', '/api/billing/' + encodeURIComponent(b.meter) + '/reset', { confirm: true });
          toast(t('done'));
          show();
        } catch (e) { if (!e.gone) toast(e.message, true); }
      };
      addTo(el, h('div', { class: 'row' }, r));
    }
    return el;
  }
  // Totals per group of the running month (meters excluded from totals shown, not added).
  // the month's statements as one table for the accounts (GET /api/statements.csv, no meter)
  function monthTable(m) {
    const prev = new Date(Date.parse(siteDay(new Date()).slice(0, 7) + '-01T00:00Z') - 864e5).toISOString().slice(0, 7);
    const f = h('form', { id: 'month-table', novalidate: true },
      h('div', { class: 'cols' }, fld('mt', 'month', t('bill.month'), { type: 'month', value: prev })));
    const a = h('a', { class: 'btn', 'data-action': 'month-table' }, t('exp.download'));
    const upd = () => { a.href = '/api/statements.csv?month=' + collect(f).month; }; // empty month: the device says so
    f.addEventListener('input', upd);
    f.addEventListener('submit', (e) => e.preventDefault());
    upd();
    addTo(m, card(t('bill.table'), h('p', { class: 'muted small' }, t('bill.table_h')), f, h('div', { class: 'row' }, a)));
  }
  async function billTotals(m, g) {
    let tt;
    try { tt = await get('/api/billing/totals'); } catch (e) { return; }
    if (!alive(g) || !tt || !tt.groups || !tt.groups.length) return;
    const rows = tt.groups.map((gr) => h('tr', null, h('th', { scope: 'row' }, gr.group || t('bill.nogroup')), h('td', { class: 'diff' }, withUnit(gr.kwh_delta, 'kWh', 1))));
    rows.push(h('tr', null, h('th', { scope: 'row' }, t('bill.total_all')), h('td', { class: 'diff' }, withUnit(tt.total_kwh_delta, 'kWh', 1))));
    addTo(m, card(t('bill.totals') + (tt.month ? ' (' + monthName(tt.month) + ')' : ''), h('div', { class: 'tbl' }, h('table', { id: 'bill-totals' }, h('tbody', null, rows)))));
  }
  // Installer: currency, tariffs (base + one off-peak period by time windows), meters' tenants,
  // tariffs, groups and common areas -> PUT /api/billing/config.
  async function billConfig(m, g) {
    let cfg;
    try { cfg = (await get('/api/billing/config')) || {}; } catch (e) { return; }
    if (!alive(g)) return;
    const tfs = (cfg.tariffs || []).slice();
    tfs.push({});
    const kinds = ['electricity', 'gas', 'water'].map((k) => [k, t('bill.k.' + k)]);
    const tfBox = (tf, i) => {
      const p = `tariffs.${i}.`, per = (tf.periods || [])[0] || {};
      return h('fieldset', { class: 'tariff' }, h('legend', null, t('bill.tariff_n', { n: i + 1 })), h('div', { class: 'cols' },
        fld('bc', p + 'name', t('bill.t_name'), { value: tf.name || '' }),
        fld('bc', p + 'kind', t('bill.kind'), { opts: kinds, value: tf.kind || 'electricity' }),
        fld('bc', p + 'base_name', t('bill.base_name'), { value: tf.base_name || '', a: { placeholder: 'HP' } }),
        fld('bc', p + 'price', t('bill.price'), { type: 'number', value: tf.price ?? '', a: { step: 'any', min: 0 } }),
        fld('bc', p + 'periods.0.name', t('bill.per_name'), { value: per.name || '', a: { placeholder: 'HC' } }),
        fld('bc', p + 'periods.0.price', t('bill.per_price'), { type: 'number', value: per.price ?? '', a: { step: 'any', min: 0 } }),
        fld('bc', p + 'periods.0.windows', t('bill.windows'), { value: (per.windows || []).join(', '), hint: t('bill.windows_h') }),
        fld('bc', p + 'export_price', t('bill.export_price'), { type: 'number', value: tf.export_price ?? '', a: { step: 'any', min: 0 } }),
        fld('bc', p + 'monthly_fee', t('bill.fee'), { type: 'number', value: tf.monthly_fee ?? '', a: { step: 'any', min: 0 } }),
        fld('bc', p + 'capacity_price', t('bill.cap_price'), { type: 'number', value: tf.capacity_price ?? '', a: { step: 'any', min: 0 } }),
        fld('bc', p + 'vat_pct', t('bill.vat'), { type: 'number', value: tf.vat_pct ?? '', a: { step: 'any', min: 0, max: 100 } })));
    };
    const names = [['', t('bill.none_t')]].concat((cfg.tariffs || []).map((x) => [x.name, x.name]));
    const mBox = (mt) => {
      const c = (cfg.meters || {})[mt.id] || {}, p = `meters.${mt.id}.`;
      return h('fieldset', { class: 'bmeter', 'data-meter': mt.id }, h('legend', null, mt.name), h('div', { class: 'cols' },
        fld('bc', p + 'tenant', t('bill.m_tenant'), { value: c.tenant || '' }),
        fld('bc', p + 'tariff', t('bill.m_tariff'), { opts: names, value: c.tariff || '' }),
        fld('bc', p + 'group', t('bill.m_group'), { value: c.group || '' }),
        fld('bc', p + 'common_share_pct', t('bill.m_share'), { type: 'number', value: c.common_share_pct ?? '', a: { step: 'any', min: 0, max: 100 } })),
        fld('bc', p + 'exclude_from_totals', t('bill.m_excl'), { type: 'checkbox', value: c.exclude_from_totals }),
        fld('bc', p + 'common', t('bill.m_common'), { type: 'checkbox', value: c.common }));
    };
    const f = h('form', { id: 'billing-config', novalidate: true },
      fld('bc', 'currency', t('bill.currency'), { value: cfg.currency || 'EUR', a: { maxlength: 3, autocapitalize: 'characters' } }),
      tfs.map(tfBox), S.meters.map(mBox), h('div', { class: 'row' }, submit('save-billing', t('b.save'))));
    onSubmit(f, async (d) => {
      // the last box is a blank for a new tariff: sent once anything in it is filled in (its
      // kind is a choice, always set), so a missing name is said rather than the rest dropped
      const filled = (x) => Object.keys(x).some((k) => k !== 'kind' && (k === 'periods' ? filled(x[k][0] || {}) : x[k] !== ''));
      d.tariffs = (d.tariffs || []).filter((x, i) => x && (i < tfs.length - 1 || filled(x))).map((x, i) => {
        const old = (cfg.tariffs || [])[i] || {};
        const per = ((x.periods || [])[0]) || {};
        const wins = String(per.windows || '').split(',').map((w) => w.trim()).filter(Boolean);
        x.periods = per.name || wins.length ? [{ name: per.name, price: per.price ?? 0, windows: wins }].concat((old.periods || []).slice(1)) : [];
        return x;
      });
      d.meters = Object.fromEntries(Object.entries(d.meters || {}));
      cfg = await api('PUT', '/api/billing/config', d);
      toast(t('saved'));
      show();
    });
    addTo(m, card(t('bill.cfg'), f));
  }
  function stBtn0(b) {
    return (month, part) => {
      const x = btn('statement', t('bill.statement'), { class: 'btn small', 'data-month': month, 'data-id': b.meter });
      x.onclick = () => showStatement(b.meter, month, part);
      return x;
    };
  }
  // A gas or water meter: one volume counter (index and consumption in m³).
  function volCard(b, q, u, months, stBtn) {
    const c = b.current || {}, cm = b.current_month || {};
    const head = h('tr', null, [t('bill.month'), t('bill.vidx'), t('bill.vdiff'), ''].map((x) => h('th', { scope: 'col' }, x)));
    const rows = months.map((r) => h('tr', { 'data-month': r.month }, h('th', { scope: 'row' }, monthName(r.month)),
      h('td', null, num(r[q], 3)), h('td', { class: 'diff' }, num(r[q + '_delta'], 3)), h('td', null, stBtn(r.month))));
    const el = card(null,
      h('div', { class: 'mhead' }, h('h2', null, billName(b) + ' · ' + t('bill.k.' + q.replace('_m3', '')))),
      !b.current && h('p', { class: 'note', 'data-role': 'first-read' }, t('bill.first_read', { t: when(b.next_read) })),
      kv([[t('bill.first'), when(b.first_init)], [t('bill.vidx'), withUnit(c[q], u, 3)],
        b.current && [t('bill.last_read'), when(c.ts)],
        b.current && [t('bill.vmonth') + ' (' + monthName(cm.month) + ')', withUnit(cm[q + '_delta'], u, 3)],
        cm.cost && [t('bill.month_cost'), money(cm.cost.total, cm.cost.currency)]]),
      b.current && h('div', { class: 'row' }, stBtn(cm.month)),
      months.length ? h('div', { class: 'tbl' }, h('table', null, h('thead', null, head), h('tbody', null, rows))) : h('p', { class: 'muted' }, t('bill.nomonths')));
    el.dataset.meter = b.meter;
    el.classList.add('bill');
    return el;
  }
  // The monthly statement, printable on A4 (app.css @media print shows only #statement).
  async function showStatement(meter, month, part) {
    const q = new URLSearchParams({ meter, month });
    if (part) q.set('part', part);
    let st;
    try { st = await get('/api/statements?' + q); } catch (e) { if (!e.gone) toast(e.message, true); return; }
    const old = $('#statement');
    if (old) old.remove();
    const c = st.cost || {}, ccy = c.currency;
    const sq = st.quantity || 'import_kwh', su = st.unit === 'm3' ? 'm³' : 'kWh';
    const label = (ln) => (ln.kind === 'energy' ? t('stm.k.energy', { n: ln.label === 'base' ? '' : ln.label }).trim() : t('stm.k.' + ln.kind));
    const unit = (u) => (u === 'month' ? '' : u === 'm3' ? 'm³' : u);
    const lines = (c.lines || []).map((ln) => h('tr', { 'data-kind': ln.kind }, h('th', { scope: 'row' }, label(ln)),
      h('td', null, ln.unit === 'month' ? num(ln.quantity * 100, 1) + ' %' : withUnit(ln.quantity, unit(ln.unit), 3)),
      h('td', null, money(ln.price, ccy)), h('td', { class: 'amt' }, money(ln.amount, ccy))));
    const sum = (k, v, cls) => h('tr', { class: cls }, h('th', { scope: 'row', colspan: '3' }, k), h('td', { class: 'amt' }, money(v, ccy)));
    const close = btn('close-statement', t('stm.close'), { class: 'btn' });
    const print = btn('print-statement', t('stm.print'), { class: 'btn pri' });
    const csvA = h('a', { class: 'btn', href: '/api/statements.csv?' + q, 'data-action': 'statement-csv', download: '' }, 'CSV');
    const title = t('stm.title', { m: monthName(st.month) }) + (st.part > 1 ? ' (' + t('stm.part', { n: st.part }) + ')' : '');
    const box = h('section', { id: 'statement', class: 'stmt', role: 'dialog', 'aria-label': title, 'data-closed': String(!!st.closed) },
      h('h2', null, title),
      !st.closed && h('p', { class: 'note' }, t('stm.open')),
      kv([[t('stm.location'), st.location || '—'], [t('stm.tenant'), st.tenant || '—'], [t('stm.meter'), (st.name || meterName(st.meter))],
        [t('stm.period'), when(st.from) + ' – ' + when(st.to)],
        [t('stm.idx_start'), withUnit(st.index_start && st.index_start[sq], su, 3)],
        [t('stm.idx_end'), withUnit(st.index_end && st.index_end[sq], su, 3)],
        [t('stm.consumption'), withUnit(st[sq], su, 3) + ' (' + (st.periods || []).map((p) => (p.name === 'base' ? '' : p.name + ' ') + num(p.kwh ?? p.m3, 3)).join(' · ') + ')'],
        typeof st.export_kwh === 'number' && st.export_kwh > 0 && [t('stm.export'), withUnit(st.export_kwh, 'kWh', 3)],
        typeof st.peak_kw === 'number' && [t('bill.peak'), withUnit(st.peak_kw, 'kW', 2) + ' · ' + when(st.peak_ts)]]),
      c.tariff === false ? h('p', { class: 'muted' }, t('stm.notariff')) : h('div', { class: 'tbl' }, h('table', { class: 'stm-lines' },
        h('thead', null, h('tr', null, [t('stm.line'), t('stm.qty'), t('stm.price'), t('stm.amount')].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, lines),
        h('tfoot', null, sum(t('stm.subtotal'), c.subtotal), sum(t('stm.vat', { p: num(c.vat_pct, 2) }), c.vat), sum(t('stm.total'), c.total, 'total')))),
      h('div', { class: 'row noprint' }, print, csvA, close));
    close.onclick = () => { box.remove(); D.body.classList.remove('has-stmt'); };
    cur.closers.push(close.onclick);
    print.onclick = () => window.print();
    D.body.classList.add('has-stmt');
    D.body.append(box);
    box.scrollIntoView();
  }
  // the site's calendar (S.tz), whatever the phone's zone: a date as YYYY-MM-DD, and the epoch ms
  // of a date's midnight there (guessed as UTC, corrected by the zone's offset, twice for a DST change)
  const siteDay = (d) => { try { return new Intl.DateTimeFormat('en-CA', { timeZone: S.tz }).format(d); } catch { return new Intl.DateTimeFormat('en-CA').format(d); } };
  function siteMidnight(ymd) {
    const utc = Date.parse(ymd + 'T00:00Z');
    if (isNaN(utc)) return NaN;
    let f = null;
    try { f = new Intl.DateTimeFormat('en-US', { timeZone: S.tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }); } catch { /* unknown zone: the phone's */ }
    const off = (ms) => {
      if (!f) return -new Date(ms).getTimezoneOffset() * 60000;
      const p = {};
      for (const x of f.formatToParts(ms)) p[x.type] = Number(x.value);
      return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
    };
    return utc - off(utc - off(utc));
  }
  function exportForm(box) {
    const now = new Date();
    const f = h('form', { id: 'export', novalidate: true },
      h('div', { class: 'cols' },
        fld('exp', 'meter', t('f.meter'), { opts: S.meters.map((x) => [x.id, x.name]) }),
        fld('exp', 'from', t('f.from'), { type: 'date', value: siteDay(new Date(now.getTime() - 7 * 864e5)) }),
        fld('exp', 'to', t('f.to'), { type: 'date', value: siteDay(now) }),
        fld('exp', 'step', t('f.step'), { opts: [['raw', t('step.raw')], ['15m', '15 min'], ['1h', '1 h'], ['1d', t('step.1d')], ['1mo', t('step.1mo')]], value: '1h' }),
        fld('exp', 'format', t('f.format'), { opts: [['csv', 'CSV'], ['json', 'JSON']] })));
    const a = h('a', { class: 'btn pri', 'data-action': 'export', id: 'export-link' }, t('exp.download'));
    const note = h('p', { class: 'muted small' });
    const upd = () => {
      const d = collect(f);
      const end = Date.parse(d.to + 'T00:00Z') + 864e5;
      const from = siteMidnight(d.from), to = isNaN(end) ? NaN : siteMidnight(new Date(end).toISOString().slice(0, 10)); // whole days of the site
      if (!d.meter || !(from < to) || to - from > 400 * 864e5) { a.removeAttribute('href'); a.setAttribute('aria-disabled', 'true'); note.textContent = S.meters.length ? t('exp.bad') : t('meters.none'); return; }
      a.removeAttribute('aria-disabled');
      note.textContent = '';
      const q = new URLSearchParams({ meter: d.meter, from: Math.floor(from / 1000), to: Math.floor(to / 1000) });
      if (d.step !== 'raw') q.set('step', d.step);
      a.href = (d.format === 'csv' ? '/api/export.csv?' : '/api/history?') + q;
      const loc = (S.location || 'dingate').replace(/[^\w.-]+/g, '_');
      a.setAttribute('download', `${loc}_${meterName(d.meter).replace(/[^\w.-]+/g, '_')}_${d.from}_${d.to}.${d.format}`);
    };
    f.addEventListener('input', upd);
    f.addEventListener('change', upd);
    f.addEventListener('submit', (e) => e.preventDefault());
    upd();
    addTo(box, f, h('div', { class: 'row' }, a), note);
  }

  /* Meters */
  PG.meters = async (m, sub, g) => {
    const ed = h('div', { id: 'meter-editor' });
    const list = h('div', { class: 'grid', id: 'meter-list' }, loading());
    const addB = btn('add-meter', '+ ' + t('meters.add'), { class: 'btn pri' });
    addB.onclick = () => meterEditor(ed, null);
    const bus = card(t('bus.title'));
    const scan = card(t('scan.title'));
    addTo(m, h('div', { class: 'row' }, addB), ed, list, bus, scan);
    let rd = {};
    const draw = () => {
      put(list, ...S.meters.map((mt) => meterRow(mt, rd[mt.id] || {}, ed)));
      if (!S.meters.length) addTo(list, h('p', { class: 'muted' }, t('meters.none')));
    };
    PG.meters.redraw = async () => { await loadMeters(); draw(); };
    try { await loadMeters(); } catch (e) { if (!e.gone) put(list, failBox(e)); return; }
    if (!alive(g)) return;
    // the device library (GET /api/profiles): the profile choices of the meter form
    try { S.profiles = S.profiles || (await get('/api/profiles')) || []; } catch (e) { S.profiles = []; }
    if (!alive(g)) return;
    draw();
    busForm(bus);
    scanCard(scan, ed);
    let first = true;
    poll(async () => {
      if (first) { first = false; return; }
      const ids = S.meters.map((x) => x.id).join();
      const [ms, r] = [await get('/api/meters'), await get('/api/readings')];
      if (!alive(g)) return;
      S.meters = ms || [];
      rd = r || {};
      if (S.meters.map((x) => x.id).join() !== ids) return draw();
      for (const mt of S.meters) {
        const el = $(`.meter[data-id="${CSS.escape(String(mt.id))}"] .live`, list);
        if (el) put(el, ...meterStatus(mt, rd[mt.id] || {}));
      }
    }, 5000);
  };
  function meterStatus(mt, r) {
    const c = mt.counters || r.counters;
    const ts = mt.last_ok || (r.status === 'ok' && r.ts) || mt.ts;
    return [h('div', null, badge(r.status || mt.status || (mt.enabled === false ? 'disabled' : 'none'))),
      kv([[t('meters.last'), when(ts)], mt.error && (r.status || mt.status) !== 'ok' && [t('st.error'), devText(mt.error)],
        mt.failing && [t('meters.failing'), mt.failing.map(([f, a, n]) => 'FC' + f + ' ' + a + '+' + n).join(', ')],
        mt.plan && [t('meters.plan'), t('meters.plan_v', { n: mt.plan.length })]]),
      c && h('p', { class: 'muted small cnt' }, t('meters.counters') + ': ' + ['requests', 'timeouts', 'crc_errors', 'exceptions'].filter((k) => k in c).map((k) => t('cnt.' + k) + '\u00a0' + num(c[k], 0)).join(' · '))];
  }
  function meterRow(mt, r, ed) {
    const res = h('div', { class: 'result', 'aria-live': 'polite' });
    const tb = btn('test-meter', t('b.test'), { 'data-id': mt.id });
    tb.onclick = () => testMeter(mt.id, res, tb);
    const eb = btn('edit-meter', t('b.edit'), { 'data-id': mt.id });
    eb.onclick = () => meterEditor(ed, mt);
    const db = btn('delete-meter', t('b.delete'), { class: 'btn danger', 'data-id': mt.id });
    db.onclick = async () => {
      if (!await confirmBox(t('meters.del'), t('meters.del_q', { n: mt.name }), t('b.delete'))) return;
      try { await api('DELETE', '/api/meters/' + encodeURIComponent(mt.id)); toast(t('done')); if (ed.dataset.id === String(mt.id)) put(ed); await PG.meters.redraw(); } catch (e) { if (!e.gone) toast(e.message, true); }
    };
    return h('article', { class: 'card meter', 'data-id': mt.id },
      h('div', { class: 'mhead' }, h('h3', null, mt.name)),
      h('p', { class: 'muted' }, [t('f.address') + ' ' + mt.address, profName(mt.profile), mt.role && t('role.' + mt.role)].filter(Boolean).join(' · ')),
      h('div', { class: 'live' }, meterStatus(mt, r)),
      h('div', { class: 'row' }, tb, eb, db), res);
  }
  async function testMeter(id, res, b) {
    b.disabled = true;
    put(res, h('p', { class: 'muted' }, t('meters.testing')));
    try {
      const r = await api('POST', '/api/meters/' + encodeURIComponent(id) + '/test');
      if (r && r.ok) {
        const v = r.values || {};
        put(res, h('p', { class: 'ok' }, '✓ ' + t('meters.test_ok')), kv(qOrder(v).map((q) => [qLabel(q), qVal(q, v[q])])));
      } else put(res, h('p', { class: 'err' }, '✗ ' + ((r && devText(r.error)) || t('meters.test_bad'))));
    } catch (e) { if (!e.gone) put(res, h('p', { class: 'err' }, '✗ ' + e.message)); }
    b.disabled = false;
  }
  function regRow(box, r = {}) {
    const i = box.children.length;
    const p = 'meter', n = (k) => `registers[${i}].${k}`;
    const fs = h('fieldset', { class: 'reg', name: `registers[${i}]` },
      h('legend', null, t('reg.n', { n: i + 1 })),
      h('div', { class: 'cols' },
        fld(p, n('quantity'), t('f.quantity'), { value: r.quantity || '', a: { list: 'qlist', autocapitalize: 'none', required: true } }),
        fld(p, n('function'), t('f.function'), { opts: [[3, t('reg.f3')], [4, t('reg.f4')]], value: r.function || 3, a: { 'data-n': '1' } }),
        fld(p, n('register'), t('f.register'), { value: r.register ?? '', a: { inputmode: 'text', placeholder: '0x0000', autocapitalize: 'none', required: true } }),
        fld(p, n('type'), t('f.type'), { opts: ['u16', 's16', 'u32', 's32', 'u64', 'f32'], value: r.type || 'u16' }),
        fld(p, n('word_order'), t('f.word_order'), { opts: [['big', t('wo.big')], ['little', t('wo.little')]], value: r.word_order || 'big' }),
        fld(p, n('scale'), t('f.scale'), { type: 'number', value: r.scale ?? 1, a: { step: 'any' } }),
        fld(p, n('unit'), t('f.unit'), { value: r.unit ?? '', a: { maxlength: '15' } })));
    const del = btn('del-register', t('reg.del'), { class: 'btn ghost small' });
    del.onclick = () => {
      fs.remove();
      [...box.children].forEach((x, j) => { // renumber the remaining rows
        x.name = `registers[${j}]`;
        x.firstChild.textContent = t('reg.n', { n: j + 1 });
        $$('[name]', x).forEach((e) => {
          e.name = e.name.replace(/^registers\[\d+\]/, `registers[${j}]`);
          const id = fid(p, e.name);
          const lb = $(`label[for="${e.id}"]`, x);
          e.id = id;
          if (lb) lb.htmlFor = id;
        });
      });
    };
    addTo(fs, del);
    const q = $('[name$=quantity]', fs), u = $('[name$=unit]', fs);
    q.addEventListener('change', () => { if (!u.value || u.dataset.auto) { u.value = qUnit(q.value.trim()); u.dataset.auto = '1'; } });
    u.addEventListener('input', () => delete u.dataset.auto);
    addTo(box, fs);
  }
  const DEVK = [['timeout_ms', 10, 10000], ['retries', 0, 5], ['turnaround_ms', 0, 1000], ['max_registers', 1, 125]];
  const OWN_PROF = ['sdm120', 'sdm630', 'generic'];  // profiles with a translated label
  function profileOpts(cur) {
    const lib = (S.profiles || []).map((p) => [p.name, OWN_PROF.includes(p.name) ? t('prof.' + p.name) : p.title]);
    const opts = lib.length ? lib : OWN_PROF.map((x) => [x, t('prof.' + x)]);
    if (cur && !opts.some((o) => o[0] === cur)) opts.push([cur, cur]);
    return opts;
  }
  function meterEditor(ed, mt, preset) {
    const isNew = !mt;
    mt = mt || { enabled: true, profile: 'sdm120', ...preset };
    ed.dataset.id = isNew ? '' : mt.id;
    const regs = h('div', { class: 'regs' });
    const addR = btn('add-register', '+ ' + t('reg.add'), { class: 'btn small' });
    addR.onclick = () => { regRow(regs); $('input', regs.lastChild).focus(); };
    const regFs = h('fieldset', { name: 'registers', class: 'plain' }, h('legend', null, t('reg.title')), regs, addR);
    (mt.registers || []).forEach((r) => regRow(regs, r));
    const res = h('div', { class: 'result', 'aria-live': 'polite' });
    const f = h('form', { id: 'meter-form', class: 'card edit', novalidate: true },
      h('h2', null, isNew ? t('meters.add') : t('meters.edit', { n: mt.name })),
      h('datalist', { id: 'qlist' }, QALL.map((q) => h('option', { value: q }, qLabel(q)))),
      h('div', { class: 'cols' },
        fld('meter', 'name', t('f.name'), { value: mt.name || '', hint: t('meters.name_h'), a: { maxlength: '31' } }),
        fld('meter', 'address', t('f.address'), { type: 'number', value: mt.address ?? '', hint: '1–247', a: { min: '1', max: '247', required: true, inputmode: 'numeric' } }),
        fld('meter', 'profile', t('f.profile'), { opts: profileOpts(mt.profile), value: mt.profile }),
        fld('meter', 'role', t('f.role'), { opts: [['', t('role.none')]].concat(ROLES.map((x) => [x, t('role.' + x)])), value: mt.role || '' })),
      fld('meter', 'enabled', t('f.enabled'), { type: 'checkbox', value: mt.enabled !== false }),
      // this device's own bus timing (empty: the profile's or the bus's value)
      h('details', { class: 'devbus' }, h('summary', null, t('meters.devbus')), h('p', { class: 'muted small' }, t('meters.devbus_h')),
        h('div', { class: 'cols' }, DEVK.map(([k, lo, hi]) => fld('meter', k, t('f.' + k), { type: 'number', value: mt[k] ?? '', a: { min: lo, max: hi, inputmode: 'numeric' } })))),
      regFs,
      h('div', { class: 'row' }, submit('save-meter', t('b.save')),
        !isNew && btn('test-meter', t('b.test'), { 'data-id': mt.id }),
        btn('cancel-meter', t('b.cancel'), { class: 'btn ghost' })), res);
    const prof = $('[name=profile]', f);
    const sync = () => {
      const gen = prof.value === 'generic';
      regFs.hidden = !gen;
      regFs.disabled = !gen;
      if (gen && !regs.children.length) regRow(regs);
    };
    prof.addEventListener('change', sync);
    sync();
    $('[data-action=cancel-meter]', f).onclick = () => { put(ed); ed.dataset.id = ''; };
    const tb = $('[data-action=test-meter]', f);
    if (tb) tb.onclick = () => testMeter(mt.id, res, tb);
    onSubmit(f, async (d) => {
      if (!d.name.trim()) delete d.name;
      if (d.role === '') { if (isNew || !mt.role) delete d.role; else d.role = null; }
      for (const [k] of DEVK) if (!(k in d) && mt[k] != null) d[k] = null; // emptied: back to the default
      if (d.registers) {
        d.registers = d.registers.filter(Boolean);
        d.registers.forEach((r) => { const v = String(r.register).trim(); r.register = /^\d+$/.test(v) ? Number(v) : v; });
      }
      const saved = await api(isNew ? 'POST' : 'PUT', isNew ? '/api/meters' : '/api/meters/' + encodeURIComponent(mt.id), d);
      toast(t('saved'));
      put(ed);
      ed.dataset.id = '';
      await PG.meters.redraw();
      const row = saved && saved.id != null && $(`.meter[data-id="${CSS.escape(String(saved.id))}"]`);
      if (row) row.scrollIntoView({ block: 'nearest' });
    });
    put(ed, f);
    f.scrollIntoView({ block: 'start' });
    $('#meter-name').focus({ preventScroll: true });
  }
  async function busForm(box) {
    let b;
    try { b = await get('/api/bus'); } catch (e) { if (!e.gone) addTo(box, failBox(e)); return; }
    const f = h('form', { id: 'bus', novalidate: true },
      h('div', { class: 'cols' },
        fld('bus', 'baud', t('f.baud'), { opts: [...new Set([1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, b.baud || 9600])].sort((x, y) => x - y).map(String), value: String(b.baud), a: { 'data-n': '1' } }),
        fld('bus', 'parity', t('f.parity'), { opts: [['N', t('par.N')], ['E', t('par.E')], ['O', t('par.O')]], value: b.parity }),
        fld('bus', 'stop', t('f.stop'), { opts: ['1', '2'], value: String(b.stop), a: { 'data-n': '1' } }),
        fld('bus', 'timeout_ms', t('f.timeout_ms'), { type: 'number', value: b.timeout_ms, a: { min: '10', max: '10000' } }),
        fld('bus', 'retries', t('f.retries'), { type: 'number', value: b.retries, a: { min: '0', max: '5' } })),
      h('div', { class: 'row' }, submit('save-bus', t('b.save'))));
    onSubmit(f, async (d) => { await api('PUT', '/api/bus', d); toast(t('saved')); });
    addTo(box, h('p', { class: 'muted small' }, t('bus.hint')), f);
  }

  // Meters > bus scan: what answers on the line, each with an "add" for the profile detected
  function scanCard(box, ed) {
    const out = h('div', { id: 'scan-result', 'aria-live': 'polite' });
    const range = { type: 'number', a: { min: '1', max: '247', inputmode: 'numeric' } };
    const f = h('form', { id: 'scan', novalidate: true },
      h('div', { class: 'cols' }, fld('scan', 'from', t('scan.from'), { ...range, value: 1 }), fld('scan', 'to', t('scan.to'), { ...range, value: 247 })),
      fld('scan', 'line', t('scan.line'), { type: 'checkbox', value: false, hint: t('scan.line_h') }),
      h('div', { class: 'row' }, submit('scan-bus', t('scan.start'))));
    const go = $('[data-action=scan-bus]', f);
    const show = (st) => {
      const known = new Map(S.meters.map((x) => [x.address, x]));
      // a configured address: which meter it is, in red when the device found is another model
      const rows = (st.found || []).map((f) => {
        const k = known.get(f.address), other = k && f.profile && f.profile !== k.profile;
        return h('li', { class: 'row', 'data-address': String(f.address) },
          h('span', null, '#' + f.address + ' · ' + (f.profile ? profName(f.profile) : t('scan.unknown'))),
          h('span', { class: 'muted small' }, devText(f.detail)),
          k ? h('span', { class: other ? 'err' : 'small' }, '= ' + k.name + (other ? ' · ' + t('scan.as', { p: profName(k.profile) }) : ''))
            : Object.assign(btn('scan-add', t('scan.add'), { class: 'btn small', 'data-address': String(f.address) }), {
              onclick: () => meterEditor(ed, null, { address: f.address, profile: f.profile || 'generic' }),
            }));
      });
      // a finished scan: the configured meters in its range that did not answer (wiring, address)
      const got = new Set((st.found || []).map((f) => f.address));
      if (!st.running && st.progress) {
        for (const [a, k] of known) {
          if (a >= st.from && a <= st.to && !got.has(a)) rows.push(h('li', { class: 'row', 'data-address': String(a) }, h('span', { class: 'err' }, '#' + a + ' · ' + k.name + ' · ' + t('scan.silent'))));
        }
      }
      put(out, st.running ? h('p', null, h('progress', { max: '1', value: String(st.progress || 0) }), ' ', t('scan.running', { p: num(100 * (st.progress || 0), 0) })) : '',
        rows.length ? h('ul', { class: 'plain' }, rows) : (!st.running && st.progress ? h('p', { class: 'muted' }, t('scan.none')) : ''),
        (st.line || []).map((l) => h('p', { class: 'line-found' }, t('scan.line_found', { s: l.baud + ' 8' + l.parity + l.stop, a: l.addresses.join(', ') }))));
      go.disabled = !!st.running;
    };
    const watch = () => {
      const g = cur.gen;
      const tick = async () => {
        if (!alive(g)) return;
        let st;
        try { st = await get('/api/bus/scan'); } catch { return; }
        show(st || {});
        if (st && st.running) later(tick, 1000);
      };
      later(tick, 1000);
    };
    onSubmit(f, async (d) => { show(await api('POST', '/api/bus/scan', d)); watch(); });
    addTo(box, h('p', { class: 'muted small' }, t('scan.hint')), f, out);
    get('/api/bus/scan').then((st) => { if (st) { show(st); if (st.running) watch(); } }).catch(() => {});
  }

  /* Genset */
  PG.genset = async (m, sub, g) => {
    const st = card(t('gs.now'));
    const modes = h('div', { class: 'modes', role: 'group', 'aria-label': t('gs.mode') });
    const cfg = card(t('gs.cfg'));
    addTo(m, st, modes, cfg);
    let gs;
    try { [gs] = await Promise.all([get('/api/genset'), loadMeters().catch(() => [])]); } catch (e) { if (!e.gone) addTo(st, failBox(e)); return; }
    if (!alive(g)) return;
    const drawState = (x) => {
      let done = null; // a service done: the reminder starts again (installer)
      if (x.service_due_in_h != null && can('installer')) {
        done = btn('genset-serviced', t('gs.serviced'));
        done.onclick = async () => {
          if (!await confirmBox(t('gs.serviced'), t('gs.serviced_q', { h: num(x.service_interval_h, 0) }), t('gs.serviced'))) return;
          try { drawState(await api('POST', '/api/genset/service')); toast(t('saved')); } catch (e) { if (!e.gone) toast(e.message, true); }
        };
      }
      put(st, h('h2', null, t('gs.now')), gensetState(x), done && h('div', { class: 'row' }, done));
      put(modes, ...['auto', 'on', 'off'].map((md) => {
        const b = btn('genset-' + md, t('gs.m.' + md), { class: 'btn mode m-' + md, 'aria-pressed': String(x.mode === md) });
        b.onclick = async () => {
          try { drawState(await api('PUT', '/api/genset', { mode: md }) || { ...x, mode: md }); toast(t('saved')); } catch (e) { if (!e.gone) toast(e.message, true); }
        };
        return b;
      }));
    };
    drawState(gs);
    gensetForm(cfg, gs);
    later(() => poll(async () => { const x = await get('/api/genset'); if (alive(g)) drawState(x); }, 3000), 3000);
    outputsCard(m, g);
  };
  // the board's other relays (plain outputs, /api/outputs): switched from here, set up by an
  // installer (name, NO/NC, maintained/pulse/blink); the relay shows the contact (a pulse opens
  // by itself). The states are redrawn every 3 s, the settings forms only when saved.
  async function outputsCard(m, g) {
    let outs;
    try { outs = await get('/api/outputs'); } catch (e) { return; }
    if (!alive(g) || !outs || !outs.length) return;
    const rows = h('div'), box = card(t('out.title'), rows);
    addTo(m, box);
    const url = (o) => '/api/outputs/' + encodeURIComponent(o.id);
    const draw = (list) => put(rows, ...list.map((o) => {
      // a pulse on switching on: the button gives one each time (the command back off first)
      const once = o.mode === 'pulse' && o.edges === 'rising';
      const b = btn('output-' + o.id, t(once ? 'out.pulse_now' : o.on ? 'out.switch_off' : 'out.switch_on'));
      b.onclick = async () => {
        try {
          if (once && o.on) await api('PUT', url(o), { on: false });
          await api('PUT', url(o), { on: once || !o.on });
          draw(await get('/api/outputs'));
        } catch (e) { if (!e.gone) toast(e.message, true); }
      };
      return h('div', { class: 'row' },
        h('div', { class: 'relay ' + (o.closed ? 'on' : 'off'), id: 'output-' + o.id + '-relay' }, h('span', null, o.name), h('b', null, o.closed ? t('gs.closed') : t('gs.open'))), b);
    }));
    const ms = (o, k) => fld('out-' + o.id, k, t('f.' + k), { type: 'number', value: o[k] / 1000, a: { min: '0.1', step: 'any', inputmode: 'decimal', 'data-mul': '1000' } });
    const opts = (o, k, list) => fld('out-' + o.id, k, t('f.' + k), { opts: list.map((x) => [x, t('out.' + x)]), value: o[k] });
    const form = (o) => {
      const f = h('form', { id: 'output-' + o.id + '-form', novalidate: true },
        h('div', { class: 'cols' },
          fld('out-' + o.id, 'name', t('f.name'), { value: o.name, a: { maxlength: '31' } }),
          opts(o, 'contact', ['no', 'nc']), opts(o, 'mode', ['maintained', 'pulse', 'blink']),
          ms(o, 'on_ms'), ms(o, 'off_ms'), opts(o, 'edges', ['rising', 'both']), opts(o, 'power_on', ['off', 'on'])),
        h('div', { class: 'row' }, submit('save-output-' + o.id, t('b.save'))));
      // what a mode does not use is hidden and not sent (the device keeps it)
      const sync = () => { const md = f.elements.mode.value; [['on_ms', md !== 'maintained'], ['off_ms', md === 'blink'], ['edges', md === 'pulse']].forEach(([k, on]) => { f.elements[k].disabled = !on; f.elements[k].closest('.f').hidden = !on; }); };
      f.elements.mode.addEventListener('change', sync);
      sync();
      onSubmit(f, async (d) => { await api('PUT', url(o), d); draw(await get('/api/outputs')); toast(t('saved')); });
      return h('details', null, h('summary', null, t('sys.settings') + ' · ' + o.id), f);
    };
    draw(outs);
    if (can('installer')) addTo(box, ...outs.map(form));
    later(() => poll(async () => { const x = await get('/api/outputs'); if (alive(g)) draw(x); }, 3000), 3000);
  }
  function gensetForm(box, gs) {
    const src = gs.soc_source || {}, vo = gs.voltage || {}, fb = gs.feedback || {};
    const qh = gs.quiet_hours;
    const mOpts = (none) => [['', none]].concat(S.meters.map((x) => [x.id, x.name]));
    const qOpts = (cur, base) => [...new Set(base.concat(cur ? [cur] : []))].map((q) => [q, qLabel(q) + (qUnit(q) ? ' (' + qUnit(q) + ')' : '')]);
    // durations: minutes for the long ones (typed in min, sent in s), seconds for the short ones
    const mins = (k, lb, extra) => fld('gs', k, t(lb) + ' (' + t('u.min') + ')', { type: 'number', value: gs[k] == null ? '' : gs[k] / 60, hint: extra, a: { min: '0', step: 'any', inputmode: 'decimal', 'data-mul': '60' } });
    const secs = (k, lb, v) => fld('gs', k, t(lb) + ' (s)', { type: 'number', value: v, a: { min: '0', step: '1', inputmode: 'numeric' } });
    const chk = (k, lb, v) => { const c = fld('gs', k, t(lb), { type: 'checkbox', value: v }); return c; };
    const qOn = chk('quiet_on', 'f.quiet_hours', !!qh && qh.enabled !== false);
    const qTimes = h('div', { class: 'cols' },
      fld('gs', 'quiet_hours.start', t('f.qh_start'), { type: 'time', value: (qh && qh.start) || '22:00' }),
      fld('gs', 'quiet_hours.end', t('f.qh_end'), { type: 'time', value: (qh && qh.end) || '07:00' }));
    const qcb = $('input', qOn);
    qcb.removeAttribute('name');
    const vOn = chk('voltage.enabled', 'gs.v_on', !!vo.enabled);
    const vBox = h('div', { class: 'cols' },
      fld('gs', 'voltage.meter', t('f.v_meter'), { opts: mOpts(t('gs.same')), value: vo.meter != null ? String(vo.meter) : '' }),
      fld('gs', 'voltage.quantity', t('f.quantity'), { opts: qOpts(vo.quantity, ['battery_v', 'voltage_l1']), value: vo.quantity || 'battery_v' }),
      fld('gs', 'voltage.start_v', t('f.start_v'), { type: 'number', value: vo.start_v, a: { min: '0', step: 'any' } }),
      fld('gs', 'voltage.stop_v', t('f.stop_v'), { type: 'number', value: vo.stop_v, a: { min: '0', step: 'any' } }),
      secs('voltage.start_delay_s', 'f.start_delay', vo.start_delay_s), secs('voltage.stop_delay_s', 'f.stop_delay', vo.stop_delay_s));
    const fOn = chk('feedback.enabled', 'gs.fb_on', !!fb.enabled);
    const fBox = h('div', { class: 'cols' },
      secs('feedback.timeout_s', 'f.fb_timeout', fb.timeout_s),
      fld('gs', 'feedback.retries', t('f.fb_retries'), { type: 'number', value: fb.retries, a: { min: '0', max: '10' } }),
      secs('feedback.retry_pause_s', 'f.fb_pause', fb.retry_pause_s));
    const f = h('form', { id: 'genset-form', novalidate: true },
      h('fieldset', { class: 'plain', name: 'soc_source' }, h('legend', null, t('gs.soc')),
        h('div', { class: 'cols' },
          fld('gs', 'soc_source.meter', t('f.soc_meter'), { opts: mOpts(t('gs.nosrc')), value: src.meter != null ? String(src.meter) : '' }),
          fld('gs', 'soc_source.quantity', t('f.quantity'), { opts: qOpts(src.quantity, ['soc_pct']), value: src.quantity || 'soc_pct' }),
          fld('gs', 'start_soc', t('f.start_soc'), { type: 'number', value: gs.start_soc, a: { min: '0', max: '100' } }),
          fld('gs', 'stop_soc', t('f.stop_soc'), { type: 'number', value: gs.stop_soc, a: { min: '0', max: '100' } }),
          fld('gs', 'on_source_loss', t('f.on_source_loss'), { opts: ['stop', 'start', 'keep'].map((x) => [x, t('loss.' + x)]), value: gs.on_source_loss || 'stop' }))),
      h('fieldset', { class: 'plain', name: 'voltage' }, h('legend', null, t('f.voltage')), vOn, vBox),
      h('fieldset', { class: 'plain', name: 'times' }, h('legend', null, t('gs.times')),
        h('div', { class: 'cols' }, mins('min_run_s', 'f.min_run'), mins('min_rest_s', 'f.min_rest'), mins('max_run_s', 'f.max_run', t('gs.zero_none')),
          gs.manual_run_s != null && mins('manual_run_s', 'f.manual_run', t('gs.zero_mode')),
          secs('warmup_s', 'f.warmup', gs.warmup_s), secs('cooldown_s', 'f.cooldown', gs.cooldown_s),
          gs.service_interval_h != null && fld('gs', 'service_interval_h', t('f.service_interval'), { type: 'number', value: gs.service_interval_h, hint: t('gs.zero_service'), a: { min: '0', step: '1', inputmode: 'numeric' } }))),
      h('fieldset', { class: 'plain', name: 'feedback' }, h('legend', null, t('f.feedback')), h('p', { class: 'muted small' }, t('gs.fb_h')), fOn, fBox),
      h('fieldset', { class: 'plain', name: 'quiet_hours' }, h('legend', null, t('f.quiet_hours')), qOn, qTimes),
      h('div', { class: 'row' }, submit('save-genset', t('b.save'))));
    // a switched-off part hides its fields (they are not sent)
    const toggle = (cb, boxEl) => { const sync = () => { boxEl.hidden = !cb.checked; $$('input,select', boxEl).forEach((e) => { e.disabled = !cb.checked; }); }; cb.addEventListener('change', sync); sync(); };
    toggle(qcb, qTimes);
    toggle($('input', vOn), vBox);
    toggle($('input', fOn), fBox);
    onSubmit(f, async (d) => {
      d.soc_source = d.soc_source && d.soc_source.meter ? d.soc_source : null;
      if (d.voltage && d.voltage.meter === '') d.voltage.meter = null;
      if (!qcb.checked) d.quiet_hours = null;
      else if (qh && 'enabled' in qh) d.quiet_hours.enabled = true;
      await api('PUT', '/api/genset', d);
      toast(t('saved'));
    });
    addTo(box, h('p', { class: 'muted small' }, t('gs.hint')), f);
  }

  /* Network: Wi-Fi and MQTT */
  // subTabs(m, 'system', [[key, label]...], sub): the section links; returns the section shown
  function subTabs(m, page, list, sub) {
    const cur = list.some((x) => x[0] === sub) ? sub : list[0][0];
    addTo(m, h('div', { class: 'subtabs', role: 'tablist' }, list.map(([k, l]) =>
      h('a', { href: '#/' + page + '/' + k, role: 'tab', 'data-action': 'tab-' + k, 'aria-selected': String(cur === k) }, l))));
    return cur;
  }
  PG.network = (m, sub, g) => {
    (subTabs(m, 'network', [['wifi', t('src.wifi')], !gone('mqtt') && ['mqtt', 'MQTT']].filter(Boolean), sub) === 'mqtt' ? mqttPage : wifiPage)(m, g);
  };
  function bars(rssi) {
    const lv = rssi >= -55 ? 4 : rssi >= -67 ? 3 : rssi >= -78 ? 2 : 1;
    return sv('svg', { viewBox: '0 0 20 16', class: 'bars', role: 'img', 'aria-label': t('wifi.signal', { n: lv }) + ` (${rssi} dBm)`, 'data-level': lv },
      [0, 1, 2, 3].map((i) => sv('rect', { x: i * 5 + 1, y: 12 - i * 4, width: 3.5, height: 4 + i * 4, rx: 0.8, class: i < lv ? 'lit' : '' })));
  }
  const lock = () => sv('svg', { viewBox: '0 0 24 24', class: 'lock', role: 'img', 'aria-label': t('wifi.secured') },
    sv('path', { d: 'M7 10V7a5 5 0 0 1 10 0v3h2v12H5V10zm2 0h6V7a3 3 0 0 0-6 0z', 'fill-rule': 'evenodd' }));
  async function wifiPage(m, g) {
    const stat = card(t('wifi.status'), loading());
    const list = h('div', { class: 'nets', id: 'wifi-list', role: 'list' });
    const scan = btn('scan', t('wifi.scan'), { class: 'btn pri' });
    const pwF = fld('wifi', 'password', t('f.wifi_key'), { type: 'password', a: { autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' } });
    const progress = h('div', { class: 'result', id: 'wifi-progress', 'aria-live': 'polite' });
    const f = h('form', { id: 'wifi-form', novalidate: true },
      fld('wifi', 'ssid', t('f.ssid'), { a: { autocapitalize: 'none', spellcheck: 'false', maxlength: '32', required: true } }), pwF,
      h('details', null, h('summary', null, t('wifi.static')),
        h('p', { class: 'muted small' }, t('wifi.static_h')),
        h('div', { class: 'cols' }, ['ip', 'netmask', 'gateway', 'dns'].map((k) => fld('wifi', k, t('f.' + k), { a: { inputmode: 'decimal', placeholder: '0.0.0.0' } })))),
      h('div', { class: 'row' }, submit('connect', t('wifi.connect'))), progress);
    let nets = [];
    const ssidIn = $('[name=ssid]', f);
    const syncPw = () => {
      const n = nets.find((x) => x.ssid === ssidIn.value);
      pwF.hidden = !!n && !n.secure;
      $$('.net', list).forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.ssid === ssidIn.value)));
    };
    ssidIn.addEventListener('input', syncPw);
    const drawNets = () => {
      put(list, ...nets.map((n) => {
        const b = h('button', { type: 'button', class: 'net', role: 'listitem', 'data-action': 'select-network', 'data-ssid': n.ssid, 'aria-pressed': 'false' },
          bars(n.rssi), h('span', { class: 'ssid' }, n.ssid), n.secure ? lock() : h('span', { class: 'open' }, t('wifi.open')));
        b.onclick = () => {
          ssidIn.value = n.ssid;
          syncPw();
          clearErr(f);
          const pi = $('[name=password]', f);
          pi.value = '';
          (n.secure ? pi : $('[data-action=connect]', f)).focus();
        };
        return b;
      }));
      if (!nets.length) addTo(list, h('p', { class: 'muted' }, t('wifi.none')));
      syncPw();
    };
    scan.onclick = async () => {
      scan.disabled = true;
      scan.textContent = t('wifi.scanning');
      try {
        const r = (await get('/api/wifi/scan')) || [];
        const best = {};
        for (const n of r) if (n && typeof n.ssid === 'string' && n.ssid && (!best[n.ssid] || n.rssi > best[n.ssid].rssi)) best[n.ssid] = n;
        nets = Object.values(best).sort((a, b) => b.rssi - a.rssi);
        if (alive(g)) drawNets();
      } catch (e) { if (!e.gone) put(list, failBox(e)); }
      scan.disabled = false;
      scan.textContent = t('wifi.scan');
    };
    addTo(m, stat, card(t('wifi.list'), h('div', { class: 'row' }, scan), list, f));
    const drawStat = (w) => {
      const ap = w.ap || {}, sta = w.sta || {};
      put(stat, h('h2', null, t('wifi.status')), kv([
        w.setup_left_s != null && [t('prg.win'), h('b', { id: 'setup-window' }, t('prg.left', { t: duration(w.setup_left_s) }))],
        [t('wifi.mode'), String(w.mode || '—').toUpperCase()],
        [t('wifi.ap'), [ap.ssid || '—', ' · ', ap.on === false ? t('wifi.off') : t('wifi.on')]],
        [t('wifi.sta'), sta.ssid ? [sta.ssid, ' · ', wsText(sta.status)] : t('wifi.nosta')],
        sta.ip && sta.ip !== '0.0.0.0' && [t('f.ip'), sta.ip],
        w.hostname && [t('wifi.host'), h('span', { id: 'hostname' }, w.hostname + ' · ' + w.hostname + '.local')],
        typeof sta.rssi === 'number' && [t('wifi.rssi'), h('span', null, bars(sta.rssi), ` ${sta.rssi} dBm`)]]));
      if (sta.ssid) {
        const fg = btn('forget-wifi', t('wifi.forget'), { class: 'btn ghost small' });
        fg.onclick = async () => {
          if (!await confirmBox(t('wifi.forget'), t('wifi.forget_q', { s: sta.ssid }), t('wifi.forget'))) return;
          try { await api('POST', '/api/wifi/forget'); await refresh(); } catch (e) { if (!e.gone) toast(e.message, true); }
        };
        addTo(stat, h('div', { class: 'row' }, fg));
      }
      if (!prefilled && sta.dhcp === false) {
        prefilled = true;
        for (const k of ['ip', 'netmask', 'gateway', 'dns']) if (sta['static_' + k]) $(`[name=${k}]`, f).value = sta['static_' + k];
      }
    };
    let prefilled = false;
    const refresh = async () => { const w = await get('/api/wifi'); if (alive(g)) drawStat(w || {}); return w || {}; };
    onSubmit(f, async (d) => {
      const n = nets.find((x) => x.ssid === d.ssid);
      const body = { ssid: d.ssid, password: n && !n.secure ? '' : d.password };
      for (const k of ['ip', 'netmask', 'gateway', 'dns']) if (d[k].trim()) body[k] = d[k].trim();
      if (!d.ssid) throw Object.assign(new Error(t('e.required')), { field: 'ssid' });
      await api('POST', '/api/wifi/connect', body);
      put(progress, h('p', { class: 'muted' }, t('wifi.connecting', { s: d.ssid })));
      const t0 = Date.now();
      const step = async () => {
        if (!alive(g)) return;
        let w = null;
        try { w = await refresh(); } catch (e) { if (e.gone) return; }
        const sta = (w && w.sta) || {};
        const mine = !sta.ssid || sta.ssid === d.ssid;
        if (mine && sta.status === 'connected' && sta.ip) {
          put(progress, h('p', { class: 'ok', id: 'wifi-connected' }, '✓ ' + t('wifi.connected', { s: d.ssid, ip: sta.ip })));
          return;
        }
        if (mine && Date.now() - t0 > 2500 && ['wrong_password', 'no_ap_found', 'failed'].includes(sta.status)) {
          put(progress);
          showErr(f, { message: '✗ ' + wsText(sta.status), field: sta.status === 'wrong_password' ? 'password' : 'ssid' });
          return;
        }
        if (Date.now() - t0 > 60000) { put(progress, h('p', { class: 'err' }, t(w ? 'wifi.timeout' : 'wifi.lost'))); return; }
        later(step, 1500);
      };
      later(step, 1500);
    });
    try { await refresh(); } catch (e) { if (!e.gone) put(stat, failBox(e)); }
    if (alive(g)) scan.click();
  }
  const wsText = (st) => (t('ws.' + st) === 'ws.' + st ? String(st ?? '—') : t('ws.' + st));
  async function mqttPage(m, g) {
    const box = card('MQTT', loading());
    addTo(m, box);
    let d;
    try { d = (await get('/api/mqtt')) || {}; } catch (e) { if (!e.gone) put(box, h('h2', null, 'MQTT'), failBox(e)); return; }
    if (!alive(g)) return;
    const f = h('form', { id: 'mqtt-form', novalidate: true },
      h('div', { class: 'cols' },
        fld('mqtt', 'host', t('f.host'), { value: d.host || '', a: { autocapitalize: 'none', spellcheck: 'false' } }),
        fld('mqtt', 'port', t('f.port'), { type: 'number', value: d.port ?? 1883, a: { min: '1', max: '65535' } }),
        fld('mqtt', 'user', t('f.user'), { value: d.user || '', a: { autocomplete: 'off', autocapitalize: 'none' } }),
        fld('mqtt', 'password', t('f.password') + (d.password_set ? ' (•••• ' + t('mqtt.set') + ')' : ''), { type: 'password', hint: d.password_set ? t('mqtt.keep') : null, a: { autocomplete: 'new-password', placeholder: d.password_set ? '•••• ' + t('mqtt.set') : '' } }),
        fld('mqtt', 'base_topic', t('f.base_topic'), { value: d.base_topic || '', a: { autocapitalize: 'none' } })),
      fld('mqtt', 'tls', t('f.tls'), { type: 'checkbox', value: d.tls }),
      fld('mqtt', 'discovery', t('f.discovery'), { type: 'checkbox', value: d.discovery }),
      h('div', { class: 'row' }, submit('save-mqtt', t('b.save'))));
    onSubmit(f, async (x) => {
      if (!x.password) delete x.password;
      await api('PUT', '/api/mqtt', x);
      toast(t('saved'));
      show();
    });
    const s = d.state || {};
    put(box, h('h2', null, 'MQTT'),
      kv([[t('mqtt.state'), h('span', { id: 'mqtt-state', class: s.connected ? 'ok' : d.host ? 'err' : 'muted' }, !d.host ? t('mqtt.off') : s.connected ? t('ws.connected') : t('mqtt.disc'))],
        d.host && s.last_error && [t('mqtt.last_error'), h('span', { id: 'mqtt-error', title: s.last_error }, devText(s.last_error))],
        d.host && s.connects != null && [t('mqtt.connects'), num(s.connects, 0)],
        d.host && s.samples != null && [t('mqtt.samples'), num(s.samples, 0)]]), f);
  }

  /* System */
  const TZ = ['Europe/Paris', 'Europe/Brussels', 'Europe/Amsterdam', 'Europe/Luxembourg', 'Europe/London', 'UTC'];
  PG.system = async (m, sub, g) => {
    sub = subTabs(m, 'system', [['general', t('sys.general')], !gone('modbus_tcp') && ['modbus', t('sys.mbtcp')], ['maint', t('sys.maint')]].filter(Boolean), sub);
    if (sub === 'modbus') return mbtcpPage(m, g);
    const about = card(t('sys.about'), loading());
    const set = card(t('sys.settings'));
    const maint = card(t('sys.maint'));
    addTo(m, about, sub === 'general' && set, sub === 'maint' && maint);
    let sy, st;
    try { [sy, st] = await Promise.all([opt('/api/system'), opt('/api/settings')]); } catch { return; }
    if (!alive(g)) return;
    if (sub === 'maint') { about.remove(); return maintenance(maint, sy); }
    if (st._err) addTo(set, failBox(st._err));
    if (st.timezone) S.tz = st.timezone;
    S.location = st.location;
    // the clock: device time, what set it, and "set from this phone" (sites without internet)
    const setT = btn('set-time', t('clk.set'));
    const drawAbout = (c = sy.clock || {}) => put(about, h('h2', null, t('sys.about')), sy._err ? failBox(sy._err) : [kv([[t('sys.serial'), sy.serial], [t('sys.mac'), sy.mac], [t('sys.firmware'), sy.firmware], [t('sys.board'), sy.board],
      [t('sys.ap'), sy.ap_ssid], [t('sys.time'), when(sy.time)], [t('clk.src'), c.source && t('clk.' + c.source) + (c.last_sync ? ' · ' + when(c.last_sync) : '')], c.ntp_error && [t('clk.err'), c.ntp_error],
      [t('f.timezone'), sy.timezone || st.timezone], [t('sys.uptime'), duration(sy.uptime_s)], sy.http_ports && [t('sys.ports'), sy.http_ports.join(', ')]].filter(Boolean).map(([k, v]) => [k, v ?? '—'])), h('div', { class: 'row' }, setT)]);
    setT.onclick = async () => {
      try { Object.assign(sy, await api('PUT', '/api/system/time', { time: Math.round(Date.now() / 1000) })); drawAbout(); toast(t('clk.done')); } catch (e) { if (!e.gone) toast(e.message, true); }
    };
    drawAbout();
    const tzs = TZ.includes(st.timezone) || !st.timezone ? TZ : TZ.concat(st.timezone);
    const f = h('form', { id: 'settings', novalidate: true },
      h('div', { class: 'cols' },
        fld('set', 'sample_interval_s', t('f.sample_interval_s'), { type: 'number', value: st.sample_interval_s, a: { min: '5', step: '1' } }),
        fld('set', 'csv_separator', t('f.csv_separator'), { opts: [[';', '; ' + t('sep.semi')], [',', ', ' + t('sep.comma')]], value: st.csv_separator }),
        fld('set', 'csv_decimal', t('f.csv_decimal'), { opts: [[',', ', ' + t('sep.comma')], ['.', '. ' + t('sep.dot')]], value: st.csv_decimal }),
        fld('set', 'timezone', t('f.timezone'), { opts: tzs, value: st.timezone || 'UTC' }),
        fld('set', 'location', t('f.location'), { value: st.location || '', hint: t('set.loc_h'), a: { maxlength: '31' } }),
        fld('set', 'ntp_server', t('f.ntp_server'), { value: st.ntp_server ?? '', hint: t('set.ntp_h'), a: { maxlength: '253', autocapitalize: 'off', spellcheck: 'false' } }),
        fld('set', 'http_port', t('f.http_port'), { type: 'number', value: st.http_port ?? 0, hint: t('set.http_port_h'), a: { min: '0', max: '65535', step: '1' } }),
        fld('set', 'host_name', t('f.host_name'), { value: st.host_name ?? '', hint: t('set.host_name_h'), a: { maxlength: '253', autocapitalize: 'off', spellcheck: 'false' } })),
      h('div', { class: 'row' }, submit('save-settings', t('b.save'))));
    onSubmit(f, async (d) => {
      await api('PUT', '/api/settings', d);
      S.tz = d.timezone;
      S.location = d.location;
      toast(t('saved'));
    });
    if (!st._err) addTo(set, f);
  };
  // System > Modbus TCP: the read-only Modbus TCP server (register map in docs/modbus-tcp-map.md)
  async function mbtcpPage(m, g) {
    const box = card(t('sys.mbtcp'), loading());
    addTo(m, box);
    let d;
    try { d = (await get('/api/modbus-tcp')) || {}; } catch (e) { if (!e.gone) put(box, failBox(e)); return; }
    if (!alive(g)) return;
    const s = d.state || {};
    const f = h('form', { id: 'mbtcp-form', novalidate: true },
      fld('mb', 'enabled', t('mb.enabled'), { type: 'checkbox', value: d.enabled }),
      h('div', { class: 'cols' }, fld('mb', 'port', t('f.port'), { type: 'number', value: d.port ?? 502, a: { min: '1', max: '65535' } })),
      h('div', { class: 'row' }, submit('save-mbtcp', t('b.save'))));
    onSubmit(f, async (x) => { await api('PUT', '/api/modbus-tcp', x); toast(t('saved')); show(); });
    put(box, h('h2', null, t('sys.mbtcp')), h('p', { class: 'muted small' }, t('mb.hint')),
      kv([[t('mb.state'), s.running ? t('mb.running', { p: s.port }) : t('mb.stopped')], [t('mb.clients'), num(s.clients, 0)],
        [t('mb.requests'), num(s.requests, 0)], s.error && [t('st.error'), s.error]]), f);
  }
  function waitBack(msg) {
    stopPage();
    const p = h('p', { class: 'note', role: 'status' }, msg);
    put($('#main'), h('div', { class: 'card' }, h('h2', null, t('sys.restarting')), p, h('div', { class: 'spin' })));
    const t0 = Date.now();
    const tick = async () => {
      try {
        const r = await fetch('/api/status', { cache: 'no-store' });
        if (r.ok && Date.now() - t0 > 8000) { location.hash = ''; location.reload(); return; }
      } catch { /* still down */ }
      if (Date.now() - t0 > 180000) p.textContent = t('sys.manual'); else setTimeout(tick, 2000);
    };
    setTimeout(tick, 5000);
  }
  function upload(url, file, onp) {
    return new Promise((res, rej) => {
      const x = new XMLHttpRequest();
      x.open('POST', url);
      x.setRequestHeader('Content-Type', 'application/octet-stream');
      x.setRequestHeader('X-CSRF-Token', S.csrf || '');
      x.upload.onprogress = (e) => { if (e.lengthComputable) onp(e.loaded / e.total); };
      x.onload = () => {
        let d = null;
        try { d = JSON.parse(x.responseText); } catch { /* not json */ }
        if (x.status >= 200 && x.status < 300) res(d);
        else {
          const e = Object.assign(new Error(''), { status: x.status, srv: d && d.error, field: d && d.field, code: d && d.code, params: d && d.params });
          e.message = errText(e);
          rej(e);
        }
      };
      x.onerror = () => rej(new Error(t('e.net')));
      x.send(file);
    });
  }
  function maintenance(box, sy) {
    const reboot = btn('reboot', t('sys.reboot'));
    reboot.onclick = async () => {
      if (!await confirmBox(t('sys.reboot'), t('sys.reboot_q'), t('sys.reboot'))) return;
      try { await api('POST', '/api/system/reboot'); waitBack(t('sys.wait')); } catch (e) { if (!e.gone) toast(e.message, true); }
    };
    const backup = h('a', { class: 'btn', href: '/api/backup', download: `dingate-${String(sy.serial || 'backup').replace(/[^\w.-]+/g, '_')}.json`, 'data-action': 'backup' }, t('sys.backup'));
    const rf = h('form', { id: 'restore-form', novalidate: true },
      fld('sys', 'restore', t('sys.restore_f'), { type: 'file', a: { accept: '.json,application/json' } }),
      h('div', { class: 'row' }, submit('restore', t('sys.restore'))));
    onSubmit(rf, async () => {
      const file = $('[name=restore]', rf).files[0];
      if (!file) throw Object.assign(new Error(t('e.file')), { field: 'restore' });
      const txt = await file.text();
      try { JSON.parse(txt); } catch { throw Object.assign(new Error(t('e.json')), { field: 'restore' }); }
      if (!await confirmBox(t('sys.restore'), t('sys.restore_q'), t('sys.restore'))) return;
      const r = await api('POST', '/api/restore', txt, 'application/json');
      toast(t('done'));
      if (r && r.reboot) waitBack(t('sys.wait'));
    });
    const prog = h('progress', { max: '1', value: '0', hidden: true, id: 'fw-progress' });
    const pl = h('span', { class: 'muted small', 'aria-live': 'polite' });
    const ff = h('form', { id: 'firmware-form', novalidate: true },
      fld('sys', 'firmware', t('sys.fw_f'), { type: 'file', hint: t('sys.fw_h') }),
      h('div', { class: 'row' }, submit('firmware', t('sys.fw')), prog, pl));
    onSubmit(ff, async () => {
      const file = $('[name=firmware]', ff).files[0];
      if (!file) throw Object.assign(new Error(t('e.file')), { field: 'firmware' });
      if (!await confirmBox(t('sys.fw'), t('sys.fw_q', { n: file.name }), t('sys.fw'))) return;
      prog.hidden = false;
      try {
        await upload('/api/firmware', file, (p) => { prog.value = p; pl.textContent = num(p * 100, 0) + ' %'; });
      } catch (e) { prog.hidden = true; pl.textContent = ''; throw e; }
      waitBack(t('sys.fw_done'));
    });
    const keep = fld('sys', 'keep_data', t('sys.keep'), { type: 'checkbox', value: true });
    const fr = btn('factory-reset', t('sys.factory'), { class: 'btn danger' });
    fr.onclick = async () => {
      const k = $('[name=keep_data]', keep).checked;
      if (!await confirmBox(t('sys.factory'), t(k ? 'sys.factory_q1' : 'sys.factory_q0'), t('sys.factory'))) return;
      try { await api('POST', '/api/system/factory-reset', { confirm: true, keep_data: k }); waitBack(t('sys.wait')); } catch (e) { if (!e.gone) toast(e.message, true); }
    };
    add(box, [
      h('h3', null, t('sys.reboot')), h('div', { class: 'row' }, reboot),
      // backup, restore and firmware update are the administrator's (the server checks it too)
      can('admin') && !gone('backup') && [h('h3', null, t('sys.backup_t')), h('p', { class: 'muted small' }, t('sys.backup_h')), h('div', { class: 'row' }, backup), rf],
      can('admin') && !gone('firmware_update') && [h('h3', null, t('sys.fw')), ff],
      can('admin') && [h('h3', null, t('sys.factory')), h('p', { class: 'muted small' }, t('sys.factory_h')), keep, h('div', { class: 'row' }, fr)]]);
  }

  /* Users (admin) */
  PG.users = async (m, sub, g) => {
    const ed = h('div', { id: 'user-editor' });
    const list = h('div', { class: 'grid', id: 'user-list' }, loading());
    const addB = btn('add-user', '+ ' + t('users.add'), { class: 'btn pri' });
    addB.onclick = () => userEditor(ed, null, draw);
    addTo(m, h('div', { class: 'row' }, addB), ed, list);
    try { await loadMeters(); } catch (e) { if (e.gone) return; }
    async function draw() {
      let us;
      try { us = (await get('/api/users')) || []; } catch (e) { if (!e.gone) put(list, failBox(e)); return; }
      if (!alive(g)) return;
      put(list, ...us.map((u) => {
        const eb = btn('edit-user', t('b.edit'), { 'data-user': u.user });
        eb.onclick = () => userEditor(ed, u, draw);
        const db = btn('delete-user', t('b.delete'), { class: 'btn danger', 'data-user': u.user });
        db.onclick = async () => {
          if (!await confirmBox(t('users.del'), t('users.del_q', { n: u.user }), t('b.delete'))) return;
          try { await api('DELETE', '/api/users/' + encodeURIComponent(u.user)); toast(t('done')); put(ed); draw(); } catch (e) { if (!e.gone) toast(e.message, true); }
        };
        return h('article', { class: 'card user', 'data-user': u.user },
          h('div', { class: 'mhead' }, h('h3', null, u.user), h('span', { class: 'badge b-role' }, t('role.' + u.role))),
          u.role === 'tenant' && kv([[t('usr.meters'), (u.meters || []).map(meterName).join(', ') || '—']]),
          h('p', { class: 'muted' }, [u.disabled && t('users.disabled'), u.must_change && t('users.must')].filter(Boolean).join(' · ')),
          h('div', { class: 'row' }, eb, u.user !== S.me.user && db));
      }));
    }
    draw();
  };
  // A tenant's meters: one checkbox per meter (the tenant sees only these).
  function tenantMeters(u) {
    const mine = (u && u.meters) || [];
    return h('fieldset', { id: 'tenant-meters', name: 'meters', class: 'checks' }, h('legend', null, t('usr.meters')),
      S.meters.map((mt) => h('label', null, h('input', { type: 'checkbox', name: 'tmeter', value: mt.id, checked: mine.includes(mt.id) }), ' ' + mt.name)));
  }
  function userEditor(ed, u, done) {
    const isNew = !u;
    const f = h('form', { id: 'user-form', class: 'card edit', novalidate: true },
      h('h2', null, isNew ? t('users.add') : t('users.edit', { n: u.user })),
      h('div', { class: 'cols' },
        isNew && fld('usr', 'user', t('f.user'), { a: { autocapitalize: 'none', autocomplete: 'off', spellcheck: 'false', required: true } }),
        fld('usr', 'password', isNew ? t('f.password') : t('f.new_password'), { type: 'password', hint: isNew ? null : t('users.keep'), a: { autocomplete: 'new-password' } }),
        fld('usr', 'role', t('f.role'), { opts: ['tenant', 'user', 'installer', 'admin'].map((r) => [r, t('role.' + r)]), value: isNew ? 'user' : u.role })),
      tenantMeters(u),
      !isNew && fld('usr', 'disabled', t('users.disabled'), { type: 'checkbox', value: u.disabled }),
      fld('usr', 'must_change', t('users.must'), { type: 'checkbox', value: isNew ? true : u.must_change }),
      h('div', { class: 'row' }, submit('save-user', t('b.save')), btn('cancel-user', t('b.cancel'), { class: 'btn ghost' })));
    $('[data-action=cancel-user]', f).onclick = () => put(ed);
    const tm = $('#tenant-meters', f), roleSel = $('select[name=role]', f);
    const showTm = () => { tm.hidden = roleSel.value !== 'tenant'; tm.disabled = tm.hidden; };
    roleSel.addEventListener('change', showTm);
    showTm();
    onSubmit(f, async (d) => {
      if (!isNew && !d.password) delete d.password;
      delete d.tmeter;
      if (d.role === 'tenant') d.meters = $$('input[name=tmeter]:checked', f).map((x) => x.value);
      await api(isNew ? 'POST' : 'PUT', isNew ? '/api/users' : '/api/users/' + encodeURIComponent(u.user), d);
      toast(t('saved'));
      put(ed);
      done();
    });
    put(ed, f);
    f.scrollIntoView({ block: 'start' });
    $('input', f).focus({ preventScroll: true });
  }

  /* Device texts: the generator's reason and Modbus errors come in English from the device.
     Known shapes are said in the reader's language (rs.* / mb.* keys) with their values kept;
     an unknown text is shown as sent. [pattern, key, names of the captured values] */
  const stT = (x) => (has('st.' + x) ? t('st.' + x) : x);
  const gsT = (x) => (has('gs.s.' + x) ? t('gs.s.' + x) : has('gs.m.' + x) ? t('gs.m.' + x) : x);
  const secT = (x) => duration(Number(x));
  const keyOf = (x) => x.replace(/ /g, '_'); // a fixed English text as the end of its key
  const EVT = [
    [/^min (rest|run) (\d+) s not reached \((\d+) s left\)$/, 'rs.min_', 'x n l', { n: secT, l: secT }],
    [/^warm-up (\d+)\/(\d+) s$/, 'rs.warm', 'a b', { a: secT, b: secT }],
    [/^cool-down, (\d+) s left$/, 'rs.cool', 'l', { l: secT }],
    [/^waiting for running feedback \((\d+)\/(\d+) s\)$/, 'rs.fb', 'a b', { a: secT, b: secT }],
    [/^start retry (\d+)\/(\d+) in (\d+) s$/, 'rs.retry', 'a b l', { l: secT }],
    [/^quiet hours → stop$/, 'rs.q_stop', ''],
    [/^quiet hours: no start$/, 'rs.q_nostart', ''],
    [/^(not evaluated yet|generator control not configured|starting|reboot while running|stopped by reboot|manual run|source lost|no SOC source or voltage condition configured)$/, 'rs.', 'x', { x: keyOf }],
    [/^manual run \((\d+) s\)$/, 'rs.manual_for', 'd', { d: secT }],
    [/^manual run, (\d+) s left$/, 'rs.manual_left', 'l', { l: secT }],
    [/^max run (\d+) s reached$/, 'rs.max_run', 'd', { d: secT }],
    [/^no running feedback after (\d+) s$/, 'rs.no_fb', 'd', { d: secT }],
    [/^source lost \(no SOC value\)$/, 'rs.no_soc', ''],
    [/^source stale \((\d+) s\)$/, 'rs.stale', 'd', { d: secT }],
    [/^(.+) → (stop|start|keep)$/, 'rs.lost', 'w p', { w: devText, p: (x) => t('rs.pol_' + x) }],
    [/^(.+) for (\d+)\/(\d+) s$/, 'rs.held', 'c a b', { a: secT, b: secT }],
    [/^error: (.+)$/, 'rs.error', 'e'],
    [/^mode (\w+)$/, 'rs.mode', 'm', { m: gsT }],
    [/^(\d+) FC(\d+) (0x\w+) x(\d+): no response \((\d+) attempts?, (\d+) ms each\)$/, 'mb.noresp', 'a f r n k ms'],
    [/^(\d+) FC(\d+) (0x\w+) x(\d+): no response within (\d+) ms$/, 'mb.noresp1', 'a f r n ms'],
    [/^bad CRC in reply from (\d+).*$/, 'mb.crc', 'a'],
    [/^.*exception (\d+) \((.+)\)$/, 'mb.exc', 'c x'],
    // what the bus scan says of a device (services/scan.py)
    [/^answers, not recognised$/, 'sc.none', ''],
    [/^(.+) \(also fits: (.+)\)$/, 'sc.also', 'd o', { d: devText }],
    [/^SunSpec at (\d+)(.*)$/, 'sc.sunspec', 'n r'],
    [/^(.+) (product code|model id) (\d+)$/, 'sc.', 'b x n', { x: (x) => x.replace(' ', '_') }],
    // the MQTT link's last error (lib/mqtt.py, core/mqtt_packets.py): the usual causes
    [/ECONNREFUSED/, 'mq.refused', ''],
    [/EHOSTUNREACH|ENETUNREACH/, 'mq.unreach', ''],
    [/ETIMEDOUT|timed out/, 'mq.timeout', ''],
    [/(?:cannot resolve|no address for) ([^\s:]+)/, 'mq.dns', 'h'],
    [/connection refused: (bad user name or password|not authorized|identifier rejected|server unavailable)/, 'mq.', 'x', { x: keyOf }],
  ];
  function devText(txt) {
    if (typeof txt !== 'string' || !txt) return txt ?? '';
    if (txt.includes('; ')) return txt.split('; ').map(devText).join('; ');
    for (const [re, key, names, fns = {}] of EVT) {
      const mt = txt.match(re);
      if (!mt) continue;
      const v = {};
      names.split(' ').forEach((n, i) => { if (n) v[n] = fns[n] ? fns[n](mt[i + 1]) : mt[i + 1] ?? ''; });
      const k = key.endsWith('_') || key.endsWith('.') ? key + (v.x || '') : key;
      if (has(k)) return t(k, v).replace(/ \(\)$/, '');
    }
    return txt;
  }
  /* Events: an event with a code (firmware gateway/core/event_codes.py) is said from "ev.<code>"
     with its params; lines logged before codes are matched to their code by their English text
     (OLD: [pattern, code (+ the value x when it ends with "."), names of the captured params]). */
  const OLD = [
    [/^boot \((.+)\), firmware (.+)$/, 'boot', 'cause version'],
    [/^reboot: (.+)$/, 'reboot', 'why'],
    [/^mode (\w+) -> (\w+) by (.+)$/, 'gs.mode', 'from to by'],
    [/^(\w+) → (\w+): (.+)$/, 'gs.state', 'from to why'],
    [/^start: (.+)$/, 'gs.start', 'why'],
    [/^stop after (\d+) s: (.+)$/, 'gs.stop', 's why'],
    [/^generator control configured by (\S+) \(mode (\w+)\)$/, 'gs.configured', 'by mode'],
    [/^user (.+) (created|changed|deleted) by (.+)$/, 'user.', 'user x by'],
    [/^meter (.+) added \(address (\d+), (.+)\) by (.+)$/, 'meter.added', 'name address profile by'],
    [/^meter (.+) (changed|deleted) by (.+)$/, 'meter.', 'name x by'],
    [/^output (\S+) \((.*)\) configured by (.+)$/, 'out.configured', 'id name by'],
    [/^output (\S+) removed by (.+)$/, 'out.removed', 'id by'],
    [/^(.+) switched (on|off) by (.+)$/, 'out.', 'name x by'],
    [/^(.+) logged in from (.+)$/, 'login', 'user ip'],
    [/^settings changed by (.+)$/, 'settings', 'by'],
    [/^PRG: (.+)$/, 'prg', 'action'],
    [/^clock set by (.+) from the page \(([+-]?\d+) s\)$/, 'clock.page', 'by jump'],
    [/^Wi-Fi (\S+) -> (\S+)$/, 'wifi.state', 'from to'],
    [/^(.+): (\w+) -> (\w+) \((.+)\)$/, 'meter.failed', 'name from to error'],
    [/^(.+): (\w+) -> (\w+)$/, 'meter.status', 'name from to'],
  ];
  const jumpT = (x) => (Number(x) < 0 ? '−' + secT(-Number(x)) : '+' + secT(x));
  function evParam(code, n, x) {
    if (x === null || x === undefined) return '';
    if (n === 'why' || n === 'error') return devText(String(x));
    if (n === 'mode') return gsT(x);
    if (n === 's') return secT(x);
    if (n === 'jump') return jumpT(x);
    if (n === 'action') return has('prg.' + x) ? t('prg.' + x) : x;
    if (n === 'status' && code === 'store') return has('store.' + x) ? t('store.' + x) : x;
    if (n === 'from' || n === 'to') return code.startsWith('gs.') ? gsT(x) : code.startsWith('meter.') ? stT(x) : x;
    return String(x);
  }
  function evText(e) {
    let code = e.code, p = e.params;
    if (!code && typeof e.text === 'string') {
      for (const [re, c, names] of OLD) {
        const mt = e.text.match(re);
        if (!mt) continue;
        p = {};
        names.split(' ').forEach((n, i) => { p[n] = mt[i + 1] ?? ''; });
        code = c.endsWith('.') ? c + p.x : c;
        delete p.x;
        break;
      }
    }
    if (!code || !has('ev.' + code)) return devText(e.text);
    const v = {};
    Object.keys(p || {}).forEach((n) => { v[n] = evParam(code, n, p[n]); });
    return t('ev.' + code, v);
  }
  const srcT = (x) => { const m = /^meter (.+)$/.exec(x || ''), o = /^output (.+)$/.exec(x || ''); return m ? t('f.meters') + ' ' + meterName(m[1]) : o ? t('src.output') + ' ' + o[1] : has('src.' + x) ? t('src.' + x) : x ?? ''; };

  /* Events */
  PG.events = async (m, sub, g) => {
    await loadMeters().catch(() => {}); // meter names for the sources
    const list = h('ol', { class: 'events', id: 'event-list' });
    const r = btn('refresh', t('b.refresh'));
    const types = Object.keys(L).filter((k) => k.startsWith('evt.')).map((k) => k.slice(4)); // every type, found or not
    const sources = new Set();
    const sel = h('select', { id: 'ev-type', name: 'type', 'aria-label': t('f.type') },
      h('option', { value: '' }, t('ev.all')), ...types.map((x) => [t('evt.' + x), x]).sort().map(([l, x]) => h('option', { value: x }, l)));
    const src = h('select', { id: 'ev-source', name: 'source', 'aria-label': t('ev.source') });
    const fill = () => { // the sources met so far
      const v = src.value;
      put(src, h('option', { value: '' }, t('ev.sources')), ...[...sources].map((x) => [srcT(x), x]).sort().map(([l, x]) => h('option', { value: x }, l)));
      src.value = v;
    };
    fill();
    sel.onchange = src.onchange = () => load();
    addTo(m, h('div', { class: 'row' }, r, h('div', { class: 'evsel' }, sel), h('div', { class: 'evsel' }, src)), list);
    const load = async () => {
      r.disabled = true;
      try {
        const q = [['type', sel.value], ['source', src.value]].filter(([, v]) => v).map(([k, v]) => '&' + k + '=' + encodeURIComponent(v)).join('');
        const ev = (await get('/api/events?limit=200' + q)) || [];
        if (!alive(g)) return;
        const n = sources.size;
        ev.forEach((e) => e.source && sources.add(String(e.source)));
        if (sources.size !== n) fill();
        put(list, ...ev.map((e) => h('li', { class: 'ev t-' + String(e.type || '').replace(/\W/g, '') },
          h('time', null, when(e.ts)), h('span', { class: 'badge' }, has('evt.' + e.type) ? t('evt.' + e.type) : e.type ?? ''), h('span', { class: 'src' }, srcT(e.source)), h('p', null, evText(e)))));
        if (!ev.length) addTo(list, h('li', { class: 'muted' }, t('ev.none')));
      } catch (e) { if (!e.gone) put(list, h('li', null, failBox(e))); }
      r.disabled = false;
    };
    r.onclick = load;
    poll(load, 15000);
  };

  /* Account: own password */
  PG.account = (m) => {
    m.firstChild.textContent = t('nav.account');
    addTo(m, card(null, kv([[t('f.user'), S.me.user], [t('f.role'), t('role.' + S.me.role)]])), pwForm(false));
  };

  Promise.all([loadLang(pickLang()), loadQuantities()]).then(boot);
})();
