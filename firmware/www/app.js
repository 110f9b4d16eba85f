/* dingate web page: one file, no framework, no build step, no external requests.
   Everything that comes from the device is data: the DOM is built with createElement/textContent
   only (never innerHTML). Strings go through t(); see the L table at the end of the file. */
'use strict';
(() => {
  const D = document;
  const $ = (s, r = D) => r.querySelector(s);
  const $$ = (s, r = D) => [...r.querySelectorAll(s)];

  /* ---------- language ---------- */
  let L; // filled at the end of the file
  let lang = 'en';
  function pickLang() {
    let s = null;
    try { s = localStorage.getItem('lang'); } catch { /* private mode */ }
    if (L[s]) return s;
    for (const l of navigator.languages || [navigator.language || '']) {
      const k = String(l).slice(0, 2).toLowerCase();
      if (L[k]) return k;
    }
    return 'en';
  }
  const t = (k, v) => {
    let s = L[lang][k] ?? L.en[k] ?? k;
    if (v) s = s.replace(/\{(\w+)\}/g, (m, n) => (v[n] ?? m));
    return s;
  };
  const fmtCache = {};
  const nfmt = (d) => fmtCache[lang + d] || (fmtCache[lang + d] = new Intl.NumberFormat(lang, { maximumFractionDigits: d }));
  const num = (x, d = 1) => (typeof x === 'number' && isFinite(x) ? nfmt(d).format(x) : '—');
  const withUnit = (x, u, d) => (typeof x === 'number' ? num(x, d) + (u ? '\u202f' + u : '') : '—');
  function power(w) {
    if (typeof w !== 'number') return '—';
    return Math.abs(w) >= 1000 ? withUnit(w / 1000, 'kW', 2) : withUnit(w, 'W', 0);
  }
  function when(ts) {
    if (!ts) return '—';
    const o = { dateStyle: 'short', timeStyle: 'medium' };
    try { return new Intl.DateTimeFormat(lang, { ...o, timeZone: S.tz }).format(ts * 1000); } catch {
      return new Intl.DateTimeFormat(lang, o).format(ts * 1000);
    }
  }
  function duration(s) {
    if (typeof s !== 'number') return '—';
    const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return (d ? d + t('u.d') + ' ' : '') + (d || hh ? hh + t('u.h') + ' ' : '') + m + t('u.min');
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
        v = Number(e.value);
      } else v = e.value;
      setPath(o, e.name, v);
    }
    return o;
  }
  function clearErr(form) {
    $$('.err', form).forEach((e) => e.remove());
    $$('[aria-invalid]', form).forEach((e) => e.removeAttribute('aria-invalid'));
  }
  function showErr(form, err) {
    const msg = h('small', { class: 'err', role: 'alert', 'data-field': err.field || null }, err.message || String(err));
    let f = err.field, el = null;
    while (f && !(el = [...form.elements].find((x) => x.name === f))) {
      const m = f.match(/^(.+)(\.[^.[\]]+|\[\d+\])$/);
      f = m && m[1];
    }
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
  const S = { me: null, csrf: '', tz: undefined, meters: [] };
  const RANK = { user: 1, installer: 2, admin: 3 };
  const can = (r) => (RANK[S.me && S.me.role] || 0) >= RANK[r];

  // One request at a time: the gateway loads API modules on demand and has little heap.
  let queue = Promise.resolve();
  function api(...a) {
    const r = queue.then(() => call(...a));
    queue = r.catch(() => {});
    return r;
  }
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
    if (r.status === 503 && method === 'GET' && tries < 2) {
      await new Promise((ok) => setTimeout(ok, 700));
      return call(method, path, body, ctype, tries + 1);
    }
    const e = new Error((d && typeof d.error === 'string' && d.error) || t('e.http', { s: r.status }));
    e.status = r.status;
    e.field = d && d.field;
    e.data = d || {};
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
  };
  const PAGES = [['home', 'user'], ['readings', 'user'], ['meters', 'installer'], ['genset', 'installer'],
    ['network', 'installer'], ['system', 'installer'], ['events', 'installer'], ['users', 'admin']];
  const cur = { gen: 0, timers: [] };
  const alive = (g) => g === cur.gen;
  function stopPage() {
    cur.gen++;
    cur.timers.forEach(clearTimeout);
    cur.timers = [];
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
    return h('div', { class: 'langs', role: 'group', 'aria-label': t('lang') }, Object.keys(L).map((k) => {
      const b = btn('lang-' + k, k.toUpperCase(), { class: 'lb', lang: k, 'aria-pressed': String(k === lang), title: L[k]._name });
      b.onclick = () => setLang(k);
      return b;
    }));
  }
  function setLang(k) {
    lang = k;
    try { localStorage.setItem('lang', k); } catch { /* ignore */ }
    D.documentElement.lang = k;
    if (S.me && !S.me.must_change) shell(); else if (S.me) showChange(); else showLogin();
  }
  function route() {
    const [p, sub] = (location.hash.replace(/^#\/?/, '') || 'home').split('/');
    const pg = PAGES.find((x) => x[0] === p && can(x[1]));
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
    const nav = h('nav', { class: 'tabs', 'aria-label': t('nav') }, PAGES.filter((x) => can(x[1])).map(([p]) =>
      h('a', { href: '#/' + p, 'data-page': p, 'aria-current': p === page ? 'page' : null }, icon(IC[p]), h('span', null, t('nav.' + p)))));
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
    try { // the device's time zone for every date shown, the site name for export file names
      const st = await opt('/api/settings');
      S.tz = st.timezone || S.tz;
      S.location = st.location;
    } catch { return; }
    shell();
  }

  /* ---------- pages ---------- */
  const PG = {};
  const ROLES = ['grid', 'pv', 'battery', 'load', 'sub'];
  const QU = { voltage: 'V', current: 'A', power_w: 'W', frequency_hz: 'Hz', power_factor: '', import_kwh: 'kWh', export_kwh: 'kWh', soc_pct: '%' };
  const QN = ['voltage_l1', 'voltage_l2', 'voltage_l3', 'current_l1', 'current_l2', 'current_l3', 'power_w', 'frequency_hz', 'power_factor', 'import_kwh', 'export_kwh', 'soc_pct'];
  const qBase = (q) => q.replace(/_l[123]$/, '');
  const qLabel = (q) => { const b = qBase(q), k = 'q.' + b; return L.en[k] ? t(k) + (b !== q ? ' ' + q.slice(-2).toUpperCase() : '') : q; };
  const qUnit = (q) => QU[qBase(q)] ?? '';
  const qDec = (q) => (/kwh/.test(q) ? 2 : q === 'power_factor' ? 3 : /power_w/.test(q) ? 0 : 1);
  const qVal = (q, v) => (q === 'power_w' ? power(v) : withUnit(v, qUnit(q), qDec(q)));

  /* Home: energy flow, battery, genset, live meters */
  PG.home = async (m, sub, g) => {
    const nodes = {}, lines = {};
    const POS = { pv: [50, 13], grid: [14, 50], load: [86, 50], battery: [50, 87] };
    const svg = sv('svg', { viewBox: '0 0 100 100', class: 'lines', 'aria-hidden': 'true', preserveAspectRatio: 'none' });
    for (const r in POS) {
      lines[r] = sv('line', { x1: POS[r][0], y1: POS[r][1], x2: 50, y2: 50 });
      addTo(svg, lines[r]);
      nodes[r] = { v: h('b', null, '—'), sub: h('small', null, '') };
      const n = h('div', { class: 'node n-' + r, id: 'flow-' + r, style: `left:${POS[r][0]}%;top:${POS[r][1]}%` }, h('span', null, t('role.' + r)), nodes[r].v, nodes[r].sub);
      nodes[r].el = n;
    }
    const flow = h('div', { class: 'flow', role: 'group', 'aria-label': t('home.flow') }, svg, Object.values(nodes).map((n) => n.el), h('div', { class: 'hub' }, icon(IC.genset)));
    const soc = h('b', { class: 'big' }, '—');
    const gauge = h('div', { class: 'gauge', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': t('q.soc_pct') }, h('i'));
    const batt = card(t('home.battery'), h('div', { class: 'socrow' }, gauge, soc));
    batt.hidden = true;
    const gen = card(t('nav.genset'));
    gen.hidden = true;
    const list = h('div', { class: 'grid' });
    const hint = h('p', { class: 'muted', hidden: true }, t('home.norole'));
    const upd = h('p', { class: 'muted small', 'aria-live': 'off' });
    addTo(m, card(null, flow, hint), h('div', { class: 'grid two' }, batt, gen), h('h2', { class: 'sec' }, t('home.meters')), list, upd);
    let n = 0, genOk = true;
    try { await loadMeters(); } catch (e) { if (!e.gone) addTo(m, failBox(e)); return; }
    if (!alive(g)) return;
    poll(async () => {
      if (n++ % 20 === 19) await loadMeters();
      const rd = (await get('/api/readings')) || {};
      if (!alive(g)) return;
      const sum = {}, hasRole = {};
      let socV = null, last = 0;
      for (const mt of S.meters) {
        const r = rd[mt.id] || {}, v = r.values || {};
        if (r.ts > last) last = r.ts;
        if (mt.role) hasRole[mt.role] = true;
        if (mt.role && r.status === 'ok' && typeof v.power_w === 'number') sum[mt.role] = (sum[mt.role] || 0) + v.power_w;
        if (typeof v.soc_pct === 'number' && (socV == null || mt.role === 'battery')) socV = v.soc_pct;
      }
      // signs: grid > 0 imports, pv > 0 produces, battery > 0 charges, load > 0 consumes
      let est = false;
      if (!hasRole.load && (hasRole.grid || hasRole.pv)) {
        sum.load = (sum.grid || 0) + (sum.pv || 0) - (sum.battery || 0);
        est = true;
      }
      const dirTxt = { grid: ['home.import', 'home.export'], battery: ['home.charge', 'home.discharge'], pv: ['home.produce', ''], load: ['home.consume', ''] };
      for (const r in nodes) {
        const w = sum[r], has = typeof w === 'number';
        nodes[r].v.textContent = has ? power(Math.abs(w)) : '—';
        const dt = dirTxt[r];
        nodes[r].sub.textContent = !has ? (hasRole[r] ? t('st.offline') : '') : r === 'load' && est ? t('home.est') : Math.abs(w) < 5 ? '' : t(w > 0 ? dt[0] : dt[1] || dt[0]);
        nodes[r].el.classList.toggle('none', !has);
        const inward = r === 'grid' || r === 'pv' ? w > 0 : w < 0; // energy flowing towards the hub
        lines[r].setAttribute('class', !has || Math.abs(w) < 5 ? 'idle' : inward ? 'in' : 'out');
      }
      hint.hidden = !!Object.keys(hasRole).length;
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
      if (genOk) {
        try {
          const gs = await get('/api/genset');
          if (!alive(g)) return;
          gen.hidden = false;
          put(gen, h('h2', null, t('nav.genset')), gensetState(gs, true));
        } catch (e) { genOk = e.status !== 403 && e.status !== 404; }
      }
    }, 3000);
  };
  function meterLive(mt, r) {
    const v = r.values || {};
    const keys = QN.filter((q) => q in v).concat(Object.keys(v).filter((q) => !QN.includes(q)));
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
        [t('gs.reason'), h('span', { id: 'genset-reason' }, gs.reason || '—')],
        gs.running_since && [t('gs.since'), when(gs.running_since)],
        !compact && gs.run_hours != null && [t('gs.hours'), withUnit(gs.run_hours, t('u.h'), 1)],
        !compact && gs.starts != null && [t('gs.starts'), num(gs.starts, 0)]]));
  }

  /* Readings: billing and export */
  PG.readings = async (m, sub, g) => {
    const box = h('div', null, loading());
    const exp = card(t('exp.title'));
    addTo(m, box, exp);
    let bl;
    try { [bl] = await Promise.all([opt('/api/billing'), loadMeters()]); } catch (e) { if (!e.gone) put(box, failBox(e)); return; }
    if (!alive(g)) return;
    if (bl._err) put(box, failBox(bl._err));
    else {
      put(box, ...(Array.isArray(bl) ? bl : []).map(billCard));
      if (!bl.length) addTo(box, h('p', { class: 'muted' }, t('bill.none')));
    }
    exportForm(exp);
  };
  function monthName(ym) {
    const [y, mo] = String(ym).split('-').map(Number);
    if (!y || !mo) return String(ym);
    return new Intl.DateTimeFormat(lang, { month: 'short', year: 'numeric', timeZone: 'UTC' }).format(Date.UTC(y, mo - 1, 15));
  }
  function billCard(b) {
    const c = b.current || {};
    const months = (b.months || []).slice(0, 12);
    const head = h('tr', null, [t('bill.month'), t('q.import_kwh'), 'DIFF', t('q.export_kwh'), 'DIFF'].map((x) => h('th', { scope: 'col' }, x)));
    const rows = months.map((r) => h('tr', null, h('th', { scope: 'row' }, monthName(r.month)),
      h('td', null, num(r.import_kwh, 2)), h('td', { class: 'diff' }, num(r.import_diff, 2)),
      h('td', null, num(r.export_kwh, 2)), h('td', { class: 'diff' }, num(r.export_diff, 2))));
    const el = card(null,
      h('div', { class: 'mhead' }, h('h2', null, b.name || meterName(b.meter))),
      kv([[t('bill.first'), when(b.first_init)], [t('bill.cur_imp'), withUnit(c.import_kwh, 'kWh', 2)], [t('bill.cur_exp'), withUnit(c.export_kwh, 'kWh', 2)]]),
      months.length ? h('div', { class: 'tbl' }, h('table', null, h('caption', null, t('bill.caption')), h('thead', null, head), h('tbody', null, rows))) : h('p', { class: 'muted' }, t('bill.nomonths')));
    el.dataset.meter = b.meter;
    if (can('installer')) {
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
  function exportForm(box) {
    const day = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
    const now = new Date();
    const f = h('form', { id: 'export', novalidate: true },
      h('div', { class: 'cols' },
        fld('exp', 'meter', t('f.meter'), { opts: S.meters.map((x) => [x.id, x.name]) }),
        fld('exp', 'from', t('f.from'), { type: 'date', value: day(new Date(now.getTime() - 7 * 864e5)) }),
        fld('exp', 'to', t('f.to'), { type: 'date', value: day(now) }),
        fld('exp', 'step', t('f.step'), { opts: [['raw', t('step.raw')], ['15m', '15 min'], ['1h', '1 h'], ['1d', t('step.1d')], ['1mo', t('step.1mo')]], value: '1h' }),
        fld('exp', 'format', t('f.format'), { opts: [['csv', 'CSV'], ['json', 'JSON']] })));
    const a = h('a', { class: 'btn pri', 'data-action': 'export', id: 'export-link' }, t('exp.download'));
    const note = h('p', { class: 'muted small' });
    const upd = () => {
      const d = collect(f);
      const from = Date.parse(d.from + 'T00:00'), to = Date.parse(d.to + 'T00:00') + 864e5;
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
    addTo(m, h('div', { class: 'row' }, addB), ed, list, bus);
    let rd = {};
    const draw = () => {
      put(list, ...S.meters.map((mt) => meterRow(mt, rd[mt.id] || {}, ed)));
      if (!S.meters.length) addTo(list, h('p', { class: 'muted' }, t('meters.none')));
    };
    PG.meters.redraw = async () => { await loadMeters(); draw(); };
    try { await loadMeters(); } catch (e) { if (!e.gone) put(list, failBox(e)); return; }
    if (!alive(g)) return;
    draw();
    busForm(bus);
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
      kv([[t('meters.last'), when(ts)], mt.error && (r.status || mt.status) !== 'ok' && [t('st.error'), mt.error]]),
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
      h('p', { class: 'muted' }, [t('f.address') + ' ' + mt.address, t('prof.' + mt.profile) === 'prof.' + mt.profile ? mt.profile : t('prof.' + mt.profile), mt.role && t('role.' + mt.role)].filter(Boolean).join(' · ')),
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
        put(res, h('p', { class: 'ok' }, '✓ ' + t('meters.test_ok')), kv(Object.keys(v).map((q) => [qLabel(q), qVal(q, v[q])])));
      } else put(res, h('p', { class: 'err' }, '✗ ' + ((r && r.error) || t('meters.test_bad'))));
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
  function meterEditor(ed, mt) {
    const isNew = !mt;
    mt = mt || { enabled: true, profile: 'sdm120' };
    ed.dataset.id = isNew ? '' : mt.id;
    const regs = h('div', { class: 'regs' });
    const addR = btn('add-register', '+ ' + t('reg.add'), { class: 'btn small' });
    addR.onclick = () => { regRow(regs); $('input', regs.lastChild).focus(); };
    const regFs = h('fieldset', { name: 'registers', class: 'plain' }, h('legend', null, t('reg.title')), regs, addR);
    (mt.registers || []).forEach((r) => regRow(regs, r));
    const res = h('div', { class: 'result', 'aria-live': 'polite' });
    const f = h('form', { id: 'meter-form', class: 'card edit', novalidate: true },
      h('h2', null, isNew ? t('meters.add') : t('meters.edit', { n: mt.name })),
      h('datalist', { id: 'qlist' }, QN.map((q) => h('option', { value: q }, qLabel(q)))),
      h('div', { class: 'cols' },
        fld('meter', 'name', t('f.name'), { value: mt.name || '', hint: t('meters.name_h'), a: { maxlength: '31' } }),
        fld('meter', 'address', t('f.address'), { type: 'number', value: mt.address ?? '', hint: '1–247', a: { min: '1', max: '247', required: true, inputmode: 'numeric' } }),
        fld('meter', 'profile', t('f.profile'), { opts: ['sdm120', 'sdm630', 'generic'].map((x) => [x, t('prof.' + x)]), value: mt.profile }),
        fld('meter', 'role', t('f.role'), { opts: [['', t('role.none')]].concat(ROLES.map((x) => [x, t('role.' + x)])), value: mt.role || '' })),
      fld('meter', 'enabled', t('f.enabled'), { type: 'checkbox', value: mt.enabled !== false }),
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
      put(st, h('h2', null, t('gs.now')), gensetState(x));
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
  };
  function gensetForm(box, gs) {
    const src = gs.soc_source || {};
    const qh = gs.quiet_hours;
    const sec = (k) => fld('gs', k, t('f.' + k), { type: 'number', value: gs[k], a: { min: '0', step: '1', inputmode: 'numeric' } });
    const qOn = fld('gs', 'quiet_on', t('f.quiet_hours'), { type: 'checkbox', value: !!qh && qh.enabled !== false });
    const qTimes = h('div', { class: 'cols' },
      fld('gs', 'quiet_hours.start', t('f.qh_start'), { type: 'time', value: (qh && qh.start) || '22:00' }),
      fld('gs', 'quiet_hours.end', t('f.qh_end'), { type: 'time', value: (qh && qh.end) || '07:00' }));
    const qcb = $('input', qOn);
    qcb.removeAttribute('name');
    const f = h('form', { id: 'genset-form', novalidate: true },
      h('div', { class: 'cols' },
        fld('gs', 'soc_source.meter', t('f.soc_meter'), { opts: [['', t('gs.nosrc')]].concat(S.meters.map((x) => [x.id, x.name])), value: src.meter != null ? String(src.meter) : '' }),
        fld('gs', 'soc_source.quantity', t('f.quantity'), { value: src.quantity || 'soc_pct', a: { list: 'gqlist', autocapitalize: 'none' } }),
        fld('gs', 'start_soc', t('f.start_soc'), { type: 'number', value: gs.start_soc, a: { min: '0', max: '100' } }),
        fld('gs', 'stop_soc', t('f.stop_soc'), { type: 'number', value: gs.stop_soc, a: { min: '0', max: '100' } }),
        sec('min_run_s'), sec('min_rest_s'), sec('max_run_s'), sec('warmup_s'), sec('cooldown_s'),
        fld('gs', 'on_source_loss', t('f.on_source_loss'), { opts: ['stop', 'start', 'keep'].map((x) => [x, t('loss.' + x)]), value: gs.on_source_loss || 'stop' })),
      h('datalist', { id: 'gqlist' }, QN.map((q) => h('option', { value: q }))),
      h('fieldset', { class: 'plain', name: 'quiet_hours' }, h('legend', null, t('f.quiet_hours')), qOn, qTimes),
      h('div', { class: 'row' }, submit('save-genset', t('b.save'))));
    const syncQ = () => { qTimes.hidden = !qcb.checked; $$('input', qTimes).forEach((e) => { e.disabled = !qcb.checked; }); };
    qcb.onchange = syncQ;
    syncQ();
    onSubmit(f, async (d) => {
      d.soc_source = d.soc_source && d.soc_source.meter ? d.soc_source : null;
      if (!qcb.checked) d.quiet_hours = null;
      else if (qh && 'enabled' in qh) d.quiet_hours.enabled = true;
      await api('PUT', '/api/genset', d);
      toast(t('saved'));
    });
    addTo(box, h('p', { class: 'muted small' }, t('gs.hint')), f);
  }

  /* Network: Wi-Fi and MQTT */
  PG.network = (m, sub, g) => {
    const tabs = h('div', { class: 'subtabs', role: 'tablist' }, [['wifi', 'Wi-Fi'], ['mqtt', 'MQTT']].map(([k, l]) =>
      h('a', { href: '#/network/' + k, role: 'tab', 'data-action': 'tab-' + k, 'aria-selected': String((sub || 'wifi') === k) }, l)));
    addTo(m, tabs);
    (sub === 'mqtt' ? mqttPage : wifiPage)(m, g);
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
        [t('wifi.mode'), String(w.mode || '—').toUpperCase()],
        [t('wifi.ap'), [ap.ssid || '—', ' · ', ap.on === false ? t('wifi.off') : t('wifi.on')]],
        [t('wifi.sta'), sta.ssid ? [sta.ssid, ' · ', wsText(sta.status)] : t('wifi.nosta')],
        sta.ip && sta.ip !== '0.0.0.0' && [t('f.ip'), sta.ip],
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
    put(box, h('h2', null, 'MQTT'),
      ('connected' in d || d.status) && kv([[t('mqtt.state'), d.status ? String(d.status) : d.connected ? t('ws.connected') : t('mqtt.disc')]]), f);
  }

  /* System */
  const TZ = ['Europe/Paris', 'Europe/Brussels', 'Europe/Amsterdam', 'Europe/Luxembourg', 'Europe/London', 'UTC'];
  PG.system = async (m, sub, g) => {
    const about = card(t('sys.about'), loading());
    const set = card(t('sys.settings'));
    const maint = card(t('sys.maint'));
    addTo(m, about, set, maint);
    let sy, st;
    try { [sy, st] = await Promise.all([opt('/api/system'), opt('/api/settings')]); } catch { return; }
    if (!alive(g)) return;
    if (st._err) addTo(set, failBox(st._err));
    if (st.timezone) S.tz = st.timezone;
    S.location = st.location;
    // the clock: device time, what set it, and "set from this phone" (sites without internet)
    const setT = btn('set-time', t('clk.set'));
    const drawAbout = (c = sy.clock || {}) => put(about, h('h2', null, t('sys.about')), sy._err ? failBox(sy._err) : [kv([[t('sys.serial'), sy.serial], [t('sys.mac'), sy.mac], [t('sys.firmware'), sy.firmware], [t('sys.board'), sy.board],
      [t('sys.ap'), sy.ap_ssid], [t('sys.time'), when(sy.time)], [t('clk.src'), c.source && t('clk.' + c.source) + (c.last_sync ? ' · ' + when(c.last_sync) : '')], c.ntp_error && [t('clk.err'), c.ntp_error],
      [t('f.timezone'), sy.timezone || st.timezone], [t('sys.uptime'), duration(sy.uptime_s)]].filter(Boolean).map(([k, v]) => [k, v ?? '—'])), h('div', { class: 'row' }, setT)]);
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
        fld('set', 'ntp_server', t('f.ntp_server'), { value: st.ntp_server ?? '', hint: t('set.ntp_h'), a: { maxlength: '253', autocapitalize: 'off', spellcheck: 'false' } })),
      h('div', { class: 'row' }, submit('save-settings', t('b.save'))));
    onSubmit(f, async (d) => {
      await api('PUT', '/api/settings', d);
      S.tz = d.timezone;
      S.location = d.location;
      toast(t('saved'));
    });
    if (!st._err) addTo(set, f);
    maintenance(maint, sy);
  };
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
        else rej(Object.assign(new Error((d && d.error) || t('e.http', { s: x.status })), { status: x.status, field: d && d.field }));
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
      can('admin') && [h('h3', null, t('sys.backup_t')), h('p', { class: 'muted small' }, t('sys.backup_h')), h('div', { class: 'row' }, backup), rf,
        h('h3', null, t('sys.fw')), ff],
      can('admin') && [h('h3', null, t('sys.factory')), h('p', { class: 'muted small' }, t('sys.factory_h')), keep, h('div', { class: 'row' }, fr)]]);
  }

  /* Users (admin) */
  PG.users = async (m, sub, g) => {
    const ed = h('div', { id: 'user-editor' });
    const list = h('div', { class: 'grid', id: 'user-list' }, loading());
    const addB = btn('add-user', '+ ' + t('users.add'), { class: 'btn pri' });
    addB.onclick = () => userEditor(ed, null, draw);
    addTo(m, h('div', { class: 'row' }, addB), ed, list);
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
          h('p', { class: 'muted' }, [u.disabled && t('users.disabled'), u.must_change && t('users.must')].filter(Boolean).join(' · ')),
          h('div', { class: 'row' }, eb, u.user !== S.me.user && db));
      }));
    }
    draw();
  };
  function userEditor(ed, u, done) {
    const isNew = !u;
    const f = h('form', { id: 'user-form', class: 'card edit', novalidate: true },
      h('h2', null, isNew ? t('users.add') : t('users.edit', { n: u.user })),
      h('div', { class: 'cols' },
        isNew && fld('usr', 'user', t('f.user'), { a: { autocapitalize: 'none', autocomplete: 'off', spellcheck: 'false', required: true } }),
        fld('usr', 'password', isNew ? t('f.password') : t('f.new_password'), { type: 'password', hint: isNew ? null : t('users.keep'), a: { autocomplete: 'new-password' } }),
        fld('usr', 'role', t('f.role'), { opts: ['user', 'installer', 'admin'].map((r) => [r, t('role.' + r)]), value: isNew ? 'user' : u.role })),
      !isNew && fld('usr', 'disabled', t('users.disabled'), { type: 'checkbox', value: u.disabled }),
      fld('usr', 'must_change', t('users.must'), { type: 'checkbox', value: isNew ? true : u.must_change }),
      h('div', { class: 'row' }, submit('save-user', t('b.save')), btn('cancel-user', t('b.cancel'), { class: 'btn ghost' })));
    $('[data-action=cancel-user]', f).onclick = () => put(ed);
    onSubmit(f, async (d) => {
      if (!isNew && !d.password) delete d.password;
      await api(isNew ? 'POST' : 'PUT', isNew ? '/api/users' : '/api/users/' + encodeURIComponent(u.user), d);
      toast(t('saved'));
      put(ed);
      done();
    });
    put(ed, f);
    f.scrollIntoView({ block: 'start' });
    $('input', f).focus({ preventScroll: true });
  }

  /* Events */
  PG.events = async (m, sub, g) => {
    const list = h('ol', { class: 'events', id: 'event-list' });
    const r = btn('refresh', t('b.refresh'));
    const types = new Set();
    const sel = h('select', { id: 'ev-type', name: 'type', 'aria-label': t('f.type') });
    const fill = () => {
      const v = sel.value;
      put(sel, h('option', { value: '' }, t('ev.all')), ...[...types].sort().map((x) => h('option', { value: x }, x)));
      sel.value = v;
    };
    fill();
    sel.onchange = () => load();
    addTo(m, h('div', { class: 'row' }, r, h('div', { class: 'evsel' }, sel)), list);
    const load = async () => {
      r.disabled = true;
      try {
        const ev = (await get('/api/events?limit=100' + (sel.value ? '&type=' + encodeURIComponent(sel.value) : ''))) || [];
        if (!alive(g)) return;
        const n = types.size;
        ev.forEach((e) => e.type && types.add(String(e.type)));
        if (types.size !== n) fill();
        put(list, ...ev.map((e) => h('li', { class: 'ev t-' + String(e.type || '').replace(/\W/g, '') },
          h('time', null, when(e.ts)), h('span', { class: 'badge' }, e.type ?? ''), h('span', { class: 'src' }, e.source ?? ''), h('p', null, e.text ?? ''))));
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

  /* ---------- strings ---------- */
  L = {
    en: {
      _name: 'English', lang: 'Language', nav: 'Pages', 'nav.home': 'Home', 'nav.readings': 'Readings', 'nav.meters': 'Meters', 'nav.genset': 'Genset',
      'nav.network': 'Network', 'nav.system': 'System', 'nav.events': 'Events', 'nav.users': 'Users', 'nav.account': 'My account',
      loading: 'Loading…', saved: 'Saved', done: 'Done', 'e.net': 'Cannot reach the gateway', 'e.http': 'Error {s}', 'e.required': 'Required',
      'e.file': 'Choose a file', 'e.json': 'This file is not a JSON backup',
      'b.ok': 'OK', 'b.cancel': 'Cancel', 'b.login': 'Log in', 'b.logout': 'Log out', 'b.save': 'Save', 'b.test': 'Test', 'b.edit': 'Edit',
      'b.delete': 'Delete', 'b.retry': 'Retry', 'b.refresh': 'Refresh', 'b.show': 'Show password', 'b.change_password': 'Change password',
      'login.title': 'Log in to the gateway', 'login.bad': 'Wrong user or password', 'login.wait': 'Too many attempts. Try again in {n} s.',
      'login.expired': 'Your session has ended. Please log in again.',
      'pw.title': 'Change my password', 'pw.forced': 'Choose a new password', 'pw.why': 'This account still has its initial password. Choose your own before going on.',
      'pw.mismatch': 'The two passwords differ', 'pw.done': 'Password changed',
      'f.user': 'User name', 'f.password': 'Password', 'f.old_password': 'Current password', 'f.new_password': 'New password', 'f.password2': 'New password again',
      'f.name': 'Name', 'f.address': 'Address', 'f.profile': 'Profile', 'f.role': 'Role', 'f.enabled': 'Enabled', 'f.quantity': 'Quantity', 'f.function': 'Function',
      'f.register': 'Register', 'f.type': 'Type', 'f.word_order': 'Word order', 'f.scale': 'Scale', 'f.unit': 'Unit',
      'f.baud': 'Baud rate', 'f.parity': 'Parity', 'f.stop': 'Stop bits', 'f.timeout_ms': 'Timeout (ms)', 'f.retries': 'Retries',
      'f.meter': 'Meter', 'f.from': 'From', 'f.to': 'To', 'f.step': 'Step', 'f.format': 'Format',
      'f.soc_meter': 'SOC source meter', 'f.start_soc': 'Start at SOC ≤ (%)', 'f.stop_soc': 'Stop at SOC ≥ (%)', 'f.min_run_s': 'Minimum run (s)',
      'f.min_rest_s': 'Minimum rest (s)', 'f.max_run_s': 'Maximum run (s, 0 = none)', 'f.warmup_s': 'Warm-up (s)', 'f.cooldown_s': 'Cool-down (s)',
      'f.quiet_hours': 'Quiet hours', 'f.qh_start': 'Start', 'f.qh_end': 'End', 'f.on_source_loss': 'If the SOC source is lost',
      'f.ssid': 'Network name (SSID)', 'f.wifi_key': 'Wi-Fi key', 'f.ip': 'IP address', 'f.netmask': 'Netmask', 'f.gateway': 'Gateway', 'f.dns': 'DNS',
      'f.host': 'Broker host', 'f.port': 'Port', 'f.tls': 'TLS', 'f.base_topic': 'Base topic', 'f.discovery': 'Home Assistant discovery',
      'f.sample_interval_s': 'Sample interval (s, ≥ 5)', 'f.csv_separator': 'CSV field separator', 'f.csv_decimal': 'CSV decimal mark', 'f.timezone': 'Time zone', 'f.location': 'Location',
      'role.user': 'User', 'role.installer': 'Installer', 'role.admin': 'Administrator', 'role.none': '(none)',
      'role.grid': 'Grid', 'role.pv': 'PV', 'role.battery': 'Battery', 'role.load': 'Load', 'role.sub': 'Sub-meter',
      'st.ok': 'OK', 'st.offline': 'Offline', 'st.error': 'Error', 'st.disabled': 'Disabled', 'st.none': 'No data',
      'q.voltage': 'Voltage', 'q.current': 'Current', 'q.power_w': 'Power', 'q.frequency_hz': 'Frequency', 'q.power_factor': 'Power factor',
      'q.import_kwh': 'Import', 'q.export_kwh': 'Export', 'q.soc_pct': 'State of charge',
      'u.d': 'd', 'u.h': 'h', 'u.min': 'min',
      'home.flow': 'Energy flow', 'home.battery': 'Battery', 'home.meters': 'Meters', 'home.import': 'Import', 'home.export': 'Export',
      'home.charge': 'Charging', 'home.discharge': 'Discharging', 'home.produce': 'Producing', 'home.consume': 'Consumption', 'home.est': 'Estimated',
      'home.norole': 'Give meters a role (grid, PV, battery, load) on the Meters page to see the energy flow.', 'home.updated': 'Updated {t}',
      'gs.relay': 'Relay', 'gs.closed': 'ON (closed)', 'gs.open': 'OFF (open)', 'gs.state': 'State', 'gs.mode': 'Mode', 'gs.reason': 'Reason', 'gs.since': 'Running since',
      'gs.hours': 'Run hours', 'gs.starts': 'Starts', 'gs.now': 'Generator now', 'gs.cfg': 'Automatic start and stop', 'gs.nosrc': '(no SOC source)',
      'gs.hint': 'Start when the battery SOC falls to the start level, stop when it reaches the stop level. Times in seconds.',
      'gs.m.auto': 'Auto', 'gs.m.on': 'On', 'gs.m.off': 'Off',
      'gs.s.stopped': 'Stopped', 'gs.s.warmup': 'Warming up', 'gs.s.running': 'Running', 'gs.s.cooldown': 'Cooling down', 'gs.s.retry': 'Retrying start', 'gs.s.error': 'Error',
      'loss.stop': 'Stop', 'loss.start': 'Start', 'loss.keep': 'Keep as is',
      'meters.add': 'Add a meter', 'meters.edit': 'Edit {n}', 'meters.none': 'No meter yet.', 'meters.last': 'Last communication', 'meters.counters': 'Counters',
      'meters.testing': 'Reading the meter…', 'meters.test_ok': 'The meter answered', 'meters.test_bad': 'No answer', 'meters.del': 'Delete the meter',
      'meters.del_q': 'Delete “{n}”? Its configuration is removed.', 'meters.name_h': '4–31 characters; empty = a default name',
      'cnt.requests': 'requests', 'cnt.timeouts': 'timeouts', 'cnt.crc_errors': 'CRC errors', 'cnt.exceptions': 'exceptions',
      'prof.sdm120': 'Eastron SDM120 (1-phase)', 'prof.sdm630': 'Eastron SDM630 (3-phase)', 'prof.generic': 'Generic Modbus',
      'reg.title': 'Registers', 'reg.add': 'Add a register', 'reg.del': 'Remove', 'reg.n': 'Register {n}', 'reg.f3': '3 – holding', 'reg.f4': '4 – input',
      'wo.big': 'Big (high word first)', 'wo.little': 'Little (low word first)',
      'bus.title': 'RS485 bus', 'bus.hint': '8 data bits. All meters on the bus must use the same settings.', 'par.N': 'None', 'par.E': 'Even', 'par.O': 'Odd',
      'bill.none': 'No billing data yet.', 'bill.month': 'Month', 'bill.first': 'First init',
      'bill.cur_imp': 'Import now', 'bill.cur_exp': 'Export now', 'bill.caption': 'Monthly readings and consumption (DIFF), kWh', 'bill.nomonths': 'No monthly reading yet.',
      'bill.reset': 'Reset for a new tenant', 'bill.reset_ok': 'Reset', 'bill.reset_q': 'Restart billing of “{n}” for a new tenant? Its readings start again from now and a new first init time is recorded; the configuration is kept. This cannot be undone.',
      'exp.title': 'Export', 'exp.download': 'Download', 'exp.bad': 'Choose a meter and a period of at most 400 days.', 'step.raw': 'Raw samples', 'step.1mo': '1 month', 'step.1d': '1 day',
      'wifi.status': 'Connection', 'wifi.list': 'List connection', 'wifi.scan': 'Scan', 'wifi.scanning': 'Scanning…', 'wifi.none': 'No network found.',
      'wifi.signal': 'Signal {n} of 4', 'wifi.secured': 'Secured', 'wifi.open': 'Open', 'wifi.static': 'Static IP (optional)', 'wifi.static_h': 'Leave empty or 0.0.0.0 for DHCP.',
      'wifi.forget': 'Forget this network', 'wifi.forget_q': 'Forget {s}? The gateway stays reachable on its own access point.',
      'wifi.connect': 'Connect', 'wifi.connecting': 'Connecting to {s}…', 'wifi.connected': 'Connected to {s}, IP {ip}', 'wifi.timeout': 'No result after 60 s.',
      'wifi.lost': 'The gateway does not answer. Rejoin its Wi-Fi and reload this page.', 'wifi.mode': 'Mode', 'wifi.ap': 'Access point', 'wifi.sta': 'Router link',
      'wifi.nosta': 'Not configured', 'wifi.rssi': 'Signal', 'wifi.on': 'on', 'wifi.off': 'off',
      'ws.connected': 'Connected', 'ws.connecting': 'Connecting', 'ws.wrong_password': 'Wrong Wi-Fi key', 'ws.no_ap_found': 'Network not found', 'ws.idle': 'Idle', 'ws.failed': 'Connection failed',
      'mqtt.set': 'set', 'mqtt.keep': 'Leave empty to keep the saved password.', 'mqtt.state': 'Broker', 'mqtt.disc': 'Disconnected',
      'sys.about': 'About', 'sys.settings': 'Settings', 'sys.maint': 'Reset Manager', 'sys.serial': 'Serial number', 'sys.mac': 'MAC', 'sys.firmware': 'Firmware',
      'sys.board': 'Board', 'sys.ap': 'Access point', 'sys.time': 'Device time', 'sys.uptime': 'Uptime',
      'clk.src': 'Clock set by', 'clk.ntp': 'NTP', 'clk.manual': 'hand', 'clk.unset': 'nobody yet', 'clk.err': 'NTP problem',
      'clk.set': 'Set from this phone', 'clk.done': 'Clock set', 'f.ntp_server': 'NTP server', 'set.ntp_h': 'host or host:port; empty: no NTP.', 'sep.semi': 'semicolon', 'sep.comma': 'comma', 'sep.dot': 'point',
      'set.loc_h': 'Up to 31 characters; used in export file names.', 'sys.reboot': 'Restart', 'sys.reboot_q': 'Restart the gateway now? Readings pause for about a minute.',
      'sys.restarting': 'Restarting', 'sys.wait': 'The gateway is restarting. This page reloads when it is back.', 'sys.manual': 'The gateway has not come back. Rejoin its Wi-Fi and reload the page.',
      'sys.backup_t': 'Backup and restore', 'sys.backup_h': 'The backup holds the configuration (no passwords).', 'sys.backup': 'Download backup', 'sys.restore_f': 'Backup file',
      'sys.restore': 'Restore', 'sys.restore_q': 'Replace the current configuration with this backup?',
      'sys.fw': 'Firmware update', 'sys.fw_f': 'Firmware file', 'sys.fw_h': 'The gateway restarts after the update.', 'sys.fw_q': 'Install {n}? Do not power off the gateway.',
      'sys.fw_done': 'Update sent. The gateway restarts; this page reloads when it is back.',
      'sys.factory': 'Factory reset', 'sys.factory_h': 'Erases the configuration, users and Wi-Fi settings.', 'sys.keep': 'Keep billing data and history',
      'sys.factory_q1': 'Erase the configuration? Billing data is kept. This cannot be undone.', 'sys.factory_q0': 'Erase the configuration AND all billing data? This cannot be undone.',
      'users.add': 'Add a user', 'users.edit': 'Edit {n}', 'users.del': 'Delete the user', 'users.del_q': 'Delete the user “{n}”?', 'users.disabled': 'Disabled',
      'users.must': 'Must change password at next login', 'users.keep': 'Leave empty to keep the password.',
      'ev.all': 'All types', 'ev.none': 'No event.',
    },
    fr: {
      _name: 'Français', lang: 'Langue', nav: 'Pages', 'nav.home': 'Accueil', 'nav.readings': 'Relevés', 'nav.meters': 'Compteurs', 'nav.genset': 'Groupe',
      'nav.network': 'Réseau', 'nav.system': 'Système', 'nav.events': 'Journal', 'nav.users': 'Comptes', 'nav.account': 'Mon compte',
      loading: 'Chargement…', saved: 'Enregistré', done: 'Fait', 'e.net': 'La passerelle ne répond pas', 'e.http': 'Erreur {s}', 'e.required': 'Obligatoire',
      'e.file': 'Choisissez un fichier', 'e.json': 'Ce fichier n’est pas une sauvegarde JSON',
      'b.ok': 'OK', 'b.cancel': 'Annuler', 'b.login': 'Se connecter', 'b.logout': 'Déconnexion', 'b.save': 'Enregistrer', 'b.test': 'Tester', 'b.edit': 'Modifier',
      'b.delete': 'Supprimer', 'b.retry': 'Réessayer', 'b.refresh': 'Actualiser', 'b.show': 'Afficher le mot de passe', 'b.change_password': 'Changer le mot de passe',
      'login.title': 'Connexion à la passerelle', 'login.bad': 'Utilisateur ou mot de passe incorrect', 'login.wait': 'Trop de tentatives. Réessayez dans {n} s.',
      'login.expired': 'Votre session a expiré. Reconnectez-vous.',
      'pw.title': 'Changer mon mot de passe', 'pw.forced': 'Choisissez un nouveau mot de passe', 'pw.why': 'Ce compte a encore son mot de passe initial. Choisissez le vôtre pour continuer.',
      'pw.mismatch': 'Les deux mots de passe diffèrent', 'pw.done': 'Mot de passe changé',
      'f.user': 'Nom d’utilisateur', 'f.password': 'Mot de passe', 'f.old_password': 'Mot de passe actuel', 'f.new_password': 'Nouveau mot de passe', 'f.password2': 'Confirmez le nouveau mot de passe',
      'f.name': 'Nom', 'f.address': 'Adresse', 'f.profile': 'Profil', 'f.role': 'Rôle', 'f.enabled': 'Activé', 'f.quantity': 'Grandeur', 'f.function': 'Fonction',
      'f.register': 'Registre', 'f.type': 'Type', 'f.word_order': 'Ordre des mots', 'f.scale': 'Multiplicateur', 'f.unit': 'Unité',
      'f.baud': 'Débit (bauds)', 'f.parity': 'Parité', 'f.stop': 'Bits de stop', 'f.timeout_ms': 'Délai de réponse (ms)', 'f.retries': 'Nouvelles tentatives',
      'f.meter': 'Compteur', 'f.from': 'Du', 'f.to': 'Au', 'f.step': 'Pas', 'f.format': 'Format',
      'f.soc_meter': 'Compteur source du SOC', 'f.start_soc': 'Démarrer à SOC ≤ (%)', 'f.stop_soc': 'Arrêter à SOC ≥ (%)', 'f.min_run_s': 'Marche minimale (s)',
      'f.min_rest_s': 'Repos minimal (s)', 'f.max_run_s': 'Marche maximale (s, 0 = aucune)', 'f.warmup_s': 'Préchauffage (s)', 'f.cooldown_s': 'Refroidissement (s)',
      'f.quiet_hours': 'Heures silencieuses', 'f.qh_start': 'Début', 'f.qh_end': 'Fin', 'f.on_source_loss': 'Si la source SOC est perdue',
      'f.ssid': 'Nom du réseau (SSID)', 'f.wifi_key': 'Clé Wi-Fi', 'f.ip': 'Adresse IP', 'f.netmask': 'Masque', 'f.gateway': 'Passerelle', 'f.dns': 'DNS',
      'f.host': 'Serveur (broker)', 'f.port': 'Port', 'f.tls': 'TLS', 'f.base_topic': 'Topic de base', 'f.discovery': 'Découverte Home Assistant',
      'f.sample_interval_s': 'Intervalle d’échantillonnage (s, ≥ 5)', 'f.csv_separator': 'Séparateur CSV', 'f.csv_decimal': 'Séparateur décimal CSV', 'f.timezone': 'Fuseau horaire', 'f.location': 'Site (LOCATION)',
      'role.user': 'Utilisateur', 'role.installer': 'Installateur', 'role.admin': 'Administrateur', 'role.none': '(aucun)',
      'role.grid': 'Réseau', 'role.pv': 'PV', 'role.battery': 'Batterie', 'role.load': 'Charge', 'role.sub': 'Sous-compteur',
      'st.ok': 'OK', 'st.offline': 'Hors ligne', 'st.error': 'Erreur', 'st.disabled': 'Désactivé', 'st.none': 'Pas de donnée',
      'q.voltage': 'Tension', 'q.current': 'Courant', 'q.power_w': 'Puissance', 'q.frequency_hz': 'Fréquence', 'q.power_factor': 'Facteur de puissance',
      'q.import_kwh': 'Soutirage', 'q.export_kwh': 'Injection', 'q.soc_pct': 'État de charge',
      'u.d': 'j', 'u.h': 'h', 'u.min': 'min',
      'home.flow': 'Flux d’énergie', 'home.battery': 'Batterie', 'home.meters': 'Compteurs', 'home.import': 'Soutirage', 'home.export': 'Injection',
      'home.charge': 'En charge', 'home.discharge': 'En décharge', 'home.produce': 'Production', 'home.consume': 'Consommation', 'home.est': 'Estimée',
      'home.norole': 'Attribuez un rôle aux compteurs (réseau, PV, batterie, charge) dans la page Compteurs pour voir le flux d’énergie.', 'home.updated': 'Mis à jour {t}',
      'gs.relay': 'Relais', 'gs.closed': 'MARCHE (fermé)', 'gs.open': 'ARRÊT (ouvert)', 'gs.state': 'État', 'gs.mode': 'Mode', 'gs.reason': 'Raison', 'gs.since': 'En marche depuis',
      'gs.hours': 'Heures de marche', 'gs.starts': 'Démarrages', 'gs.now': 'Groupe électrogène', 'gs.cfg': 'Démarrage et arrêt automatiques', 'gs.nosrc': '(pas de source SOC)',
      'gs.hint': 'Démarre quand le SOC de la batterie descend au seuil de démarrage, s’arrête quand il atteint le seuil d’arrêt. Durées en secondes.',
      'gs.m.auto': 'Auto', 'gs.m.on': 'Marche', 'gs.m.off': 'Arrêt',
      'gs.s.stopped': 'Arrêté', 'gs.s.warmup': 'Préchauffage', 'gs.s.running': 'En marche', 'gs.s.cooldown': 'Refroidissement', 'gs.s.retry': 'Nouvel essai de démarrage', 'gs.s.error': 'Erreur',
      'loss.stop': 'Arrêter', 'loss.start': 'Démarrer', 'loss.keep': 'Ne rien changer',
      'meters.add': 'Ajouter un compteur', 'meters.edit': 'Modifier {n}', 'meters.none': 'Aucun compteur.', 'meters.last': 'Dernière communication', 'meters.counters': 'Compteurs d’erreurs',
      'meters.testing': 'Lecture du compteur…', 'meters.test_ok': 'Le compteur a répondu', 'meters.test_bad': 'Pas de réponse', 'meters.del': 'Supprimer le compteur',
      'meters.del_q': 'Supprimer « {n} » ? Sa configuration est effacée.', 'meters.name_h': '4 à 31 caractères ; vide = nom par défaut',
      'cnt.requests': 'requêtes', 'cnt.timeouts': 'sans réponse', 'cnt.crc_errors': 'erreurs CRC', 'cnt.exceptions': 'exceptions',
      'prof.sdm120': 'Eastron SDM120 (monophasé)', 'prof.sdm630': 'Eastron SDM630 (triphasé)', 'prof.generic': 'Modbus générique',
      'reg.title': 'Registres', 'reg.add': 'Ajouter un registre', 'reg.del': 'Retirer', 'reg.n': 'Registre {n}', 'reg.f3': '3 – holding', 'reg.f4': '4 – input',
      'wo.big': 'Big (mot fort d’abord)', 'wo.little': 'Little (mot faible d’abord)',
      'bus.title': 'Bus RS485', 'bus.hint': '8 bits de données. Tous les compteurs du bus doivent avoir les mêmes réglages.', 'par.N': 'Aucune', 'par.E': 'Paire', 'par.O': 'Impaire',
      'bill.none': 'Pas encore de données de facturation.', 'bill.month': 'Mois', 'bill.first': 'Première initialisation',
      'bill.cur_imp': 'Index soutirage', 'bill.cur_exp': 'Index injection', 'bill.caption': 'Index mensuels et consommation (DIFF), kWh', 'bill.nomonths': 'Pas encore de relevé mensuel.',
      'bill.reset': 'Remise à zéro nouveau locataire', 'bill.reset_ok': 'Remettre à zéro', 'bill.reset_q': 'Redémarrer la facturation de « {n} » pour un nouveau locataire ? Les relevés repartent de maintenant et une nouvelle date de première initialisation est enregistrée ; la configuration est conservée. Action irréversible.',
      'exp.title': 'Export', 'exp.download': 'Télécharger', 'exp.bad': 'Choisissez un compteur et une période de 400 jours au plus.', 'step.raw': 'Échantillons bruts', 'step.1mo': '1 mois', 'step.1d': '1 jour',
      'wifi.status': 'Connexion', 'wifi.list': 'Liste des connexions', 'wifi.scan': 'Rechercher', 'wifi.scanning': 'Recherche…', 'wifi.none': 'Aucun réseau trouvé.',
      'wifi.signal': 'Signal {n} sur 4', 'wifi.secured': 'Sécurisé', 'wifi.open': 'Ouvert', 'wifi.static': 'IP fixe (facultatif)', 'wifi.static_h': 'Laisser vide ou 0.0.0.0 pour le DHCP.',
      'wifi.forget': 'Oublier ce réseau', 'wifi.forget_q': 'Oublier {s} ? La passerelle reste joignable sur son propre point d’accès.',
      'wifi.connect': 'Se connecter', 'wifi.connecting': 'Connexion à {s}…', 'wifi.connected': 'Connecté à {s}, IP {ip}', 'wifi.timeout': 'Pas de résultat après 60 s.',
      'wifi.lost': 'La passerelle ne répond plus. Rejoignez son Wi-Fi et rechargez la page.', 'wifi.mode': 'Mode', 'wifi.ap': 'Point d’accès', 'wifi.sta': 'Liaison box',
      'wifi.nosta': 'Non configurée', 'wifi.rssi': 'Signal', 'wifi.on': 'actif', 'wifi.off': 'inactif',
      'ws.connected': 'Connecté', 'ws.connecting': 'Connexion', 'ws.wrong_password': 'Clé Wi-Fi incorrecte', 'ws.no_ap_found': 'Réseau introuvable', 'ws.idle': 'Inactif', 'ws.failed': 'Échec de connexion',
      'mqtt.set': 'défini', 'mqtt.keep': 'Laisser vide pour garder le mot de passe enregistré.', 'mqtt.state': 'Broker', 'mqtt.disc': 'Déconnecté',
      'sys.about': 'À propos', 'sys.settings': 'Réglages', 'sys.maint': 'Gestion des réinitialisations', 'sys.serial': 'Numéro de série', 'sys.mac': 'MAC', 'sys.firmware': 'Micrologiciel',
      'sys.board': 'Carte', 'sys.ap': 'Point d’accès', 'sys.time': 'Heure de l’appareil', 'sys.uptime': 'En marche depuis',
      'clk.src': 'Horloge réglée par', 'clk.manual': 'la main', 'clk.unset': 'personne encore', 'clk.err': 'Problème NTP',
      'clk.set': 'Régler depuis ce téléphone', 'clk.done': 'Horloge réglée', 'f.ntp_server': 'Serveur NTP', 'set.ntp_h': 'hôte ou hôte:port ; vide : pas de NTP.', 'sep.semi': 'point-virgule', 'sep.comma': 'virgule', 'sep.dot': 'point',
      'set.loc_h': '31 caractères au plus ; utilisé dans le nom des fichiers exportés.', 'sys.reboot': 'Redémarrer', 'sys.reboot_q': 'Redémarrer la passerelle maintenant ? Les relevés s’interrompent environ une minute.',
      'sys.restarting': 'Redémarrage', 'sys.wait': 'La passerelle redémarre. Cette page se recharge à son retour.', 'sys.manual': 'La passerelle n’est pas revenue. Rejoignez son Wi-Fi et rechargez la page.',
      'sys.backup_t': 'Sauvegarde et restauration', 'sys.backup_h': 'La sauvegarde contient la configuration (sans les mots de passe).', 'sys.backup': 'Télécharger la sauvegarde', 'sys.restore_f': 'Fichier de sauvegarde',
      'sys.restore': 'Restaurer', 'sys.restore_q': 'Remplacer la configuration actuelle par cette sauvegarde ?',
      'sys.fw': 'Mise à jour du micrologiciel', 'sys.fw_f': 'Fichier du micrologiciel', 'sys.fw_h': 'La passerelle redémarre après la mise à jour.', 'sys.fw_q': 'Installer {n} ? Ne coupez pas l’alimentation.',
      'sys.fw_done': 'Mise à jour envoyée. La passerelle redémarre ; cette page se recharge à son retour.',
      'sys.factory': 'Réinitialisation usine', 'sys.factory_h': 'Efface la configuration, les utilisateurs et les réglages Wi-Fi.', 'sys.keep': 'Conserver les données de facturation et l’historique',
      'sys.factory_q1': 'Effacer la configuration ? Les données de facturation sont conservées. Action irréversible.', 'sys.factory_q0': 'Effacer la configuration ET toutes les données de facturation ? Action irréversible.',
      'users.add': 'Ajouter un utilisateur', 'users.edit': 'Modifier {n}', 'users.del': 'Supprimer l’utilisateur', 'users.del_q': 'Supprimer l’utilisateur « {n} » ?', 'users.disabled': 'Désactivé',
      'users.must': 'Doit changer son mot de passe à la prochaine connexion', 'users.keep': 'Laisser vide pour garder le mot de passe.',
      'ev.all': 'Tous les types', 'ev.none': 'Aucun évènement.',
    },
    nl: {
      _name: 'Nederlands', lang: 'Taal', nav: 'Pagina’s', 'nav.home': 'Start', 'nav.readings': 'Metingen', 'nav.meters': 'Meters', 'nav.genset': 'Aggregaat',
      'nav.network': 'Netwerk', 'nav.system': 'Systeem', 'nav.events': 'Logboek', 'nav.users': 'Gebruikers', 'nav.account': 'Mijn account',
      loading: 'Laden…', saved: 'Opgeslagen', done: 'Klaar', 'e.net': 'De gateway is niet bereikbaar', 'e.http': 'Fout {s}', 'e.required': 'Verplicht',
      'e.file': 'Kies een bestand', 'e.json': 'Dit bestand is geen JSON-back-up',
      'b.ok': 'OK', 'b.cancel': 'Annuleren', 'b.login': 'Inloggen', 'b.logout': 'Uitloggen', 'b.save': 'Opslaan', 'b.test': 'Testen', 'b.edit': 'Wijzigen',
      'b.delete': 'Verwijderen', 'b.retry': 'Opnieuw', 'b.refresh': 'Vernieuwen', 'b.show': 'Wachtwoord tonen', 'b.change_password': 'Wachtwoord wijzigen',
      'login.title': 'Inloggen op de gateway', 'login.bad': 'Verkeerde gebruiker of wachtwoord', 'login.wait': 'Te veel pogingen. Probeer opnieuw over {n} s.',
      'login.expired': 'Uw sessie is verlopen. Log opnieuw in.',
      'pw.title': 'Mijn wachtwoord wijzigen', 'pw.forced': 'Kies een nieuw wachtwoord', 'pw.why': 'Dit account heeft nog het beginwachtwoord. Kies uw eigen wachtwoord om verder te gaan.',
      'pw.mismatch': 'De twee wachtwoorden verschillen', 'pw.done': 'Wachtwoord gewijzigd',
      'f.user': 'Gebruikersnaam', 'f.password': 'Wachtwoord', 'f.old_password': 'Huidig wachtwoord', 'f.new_password': 'Nieuw wachtwoord', 'f.password2': 'Nieuw wachtwoord herhalen',
      'f.name': 'Naam', 'f.address': 'Adres', 'f.profile': 'Profiel', 'f.role': 'Rol', 'f.enabled': 'Ingeschakeld', 'f.quantity': 'Grootheid', 'f.function': 'Functie',
      'f.register': 'Register', 'f.type': 'Type', 'f.word_order': 'Woordvolgorde', 'f.scale': 'Vermenigvuldiger', 'f.unit': 'Eenheid',
      'f.baud': 'Baudrate', 'f.parity': 'Pariteit', 'f.stop': 'Stopbits', 'f.timeout_ms': 'Time-out (ms)', 'f.retries': 'Herhalingen',
      'f.meter': 'Meter', 'f.from': 'Van', 'f.to': 'Tot', 'f.step': 'Stap', 'f.format': 'Formaat',
      'f.soc_meter': 'Meter voor de SOC', 'f.start_soc': 'Starten bij SOC ≤ (%)', 'f.stop_soc': 'Stoppen bij SOC ≥ (%)', 'f.min_run_s': 'Minimale looptijd (s)',
      'f.min_rest_s': 'Minimale rusttijd (s)', 'f.max_run_s': 'Maximale looptijd (s, 0 = geen)', 'f.warmup_s': 'Opwarmen (s)', 'f.cooldown_s': 'Afkoelen (s)',
      'f.quiet_hours': 'Stille uren', 'f.qh_start': 'Begin', 'f.qh_end': 'Einde', 'f.on_source_loss': 'Als de SOC-bron wegvalt',
      'f.ssid': 'Netwerknaam (SSID)', 'f.wifi_key': 'Wifi-sleutel', 'f.ip': 'IP-adres', 'f.netmask': 'Netmasker', 'f.gateway': 'Gateway', 'f.dns': 'DNS',
      'f.host': 'Broker', 'f.port': 'Poort', 'f.tls': 'TLS', 'f.base_topic': 'Basistopic', 'f.discovery': 'Home Assistant-discovery',
      'f.sample_interval_s': 'Meetinterval (s, ≥ 5)', 'f.csv_separator': 'CSV-scheidingsteken', 'f.csv_decimal': 'CSV-decimaalteken', 'f.timezone': 'Tijdzone', 'f.location': 'Locatie',
      'role.user': 'Gebruiker', 'role.installer': 'Installateur', 'role.admin': 'Beheerder', 'role.none': '(geen)',
      'role.grid': 'Net', 'role.pv': 'PV', 'role.battery': 'Batterij', 'role.load': 'Verbruik', 'role.sub': 'Tussenmeter',
      'st.ok': 'OK', 'st.offline': 'Offline', 'st.error': 'Fout', 'st.disabled': 'Uitgeschakeld', 'st.none': 'Geen gegevens',
      'q.voltage': 'Spanning', 'q.current': 'Stroom', 'q.power_w': 'Vermogen', 'q.frequency_hz': 'Frequentie', 'q.power_factor': 'Arbeidsfactor',
      'q.import_kwh': 'Afname', 'q.export_kwh': 'Teruglevering', 'q.soc_pct': 'Laadtoestand',
      'u.d': 'd', 'u.h': 'u', 'u.min': 'min',
      'home.flow': 'Energiestroom', 'home.battery': 'Batterij', 'home.meters': 'Meters', 'home.import': 'Afname', 'home.export': 'Teruglevering',
      'home.charge': 'Laden', 'home.discharge': 'Ontladen', 'home.produce': 'Productie', 'home.consume': 'Verbruik', 'home.est': 'Geschat',
      'home.norole': 'Geef de meters een rol (net, PV, batterij, verbruik) op de pagina Meters om de energiestroom te zien.', 'home.updated': 'Bijgewerkt {t}',
      'gs.relay': 'Relais', 'gs.closed': 'AAN (gesloten)', 'gs.open': 'UIT (open)', 'gs.state': 'Toestand', 'gs.mode': 'Modus', 'gs.reason': 'Reden', 'gs.since': 'Draait sinds',
      'gs.hours': 'Draaiuren', 'gs.starts': 'Starts', 'gs.now': 'Aggregaat nu', 'gs.cfg': 'Automatisch starten en stoppen', 'gs.nosrc': '(geen SOC-bron)',
      'gs.hint': 'Start als de SOC van de batterij tot het startniveau daalt, stopt bij het stopniveau. Tijden in seconden.',
      'gs.m.auto': 'Auto', 'gs.m.on': 'Aan', 'gs.m.off': 'Uit',
      'gs.s.stopped': 'Gestopt', 'gs.s.warmup': 'Opwarmen', 'gs.s.running': 'Draait', 'gs.s.cooldown': 'Afkoelen', 'gs.s.retry': 'Nieuwe startpoging', 'gs.s.error': 'Fout',
      'loss.stop': 'Stoppen', 'loss.start': 'Starten', 'loss.keep': 'Zo laten',
      'meters.add': 'Meter toevoegen', 'meters.edit': '{n} wijzigen', 'meters.none': 'Nog geen meter.', 'meters.last': 'Laatste communicatie', 'meters.counters': 'Tellers',
      'meters.testing': 'Meter uitlezen…', 'meters.test_ok': 'De meter antwoordde', 'meters.test_bad': 'Geen antwoord', 'meters.del': 'Meter verwijderen',
      'meters.del_q': '“{n}” verwijderen? De configuratie wordt gewist.', 'meters.name_h': '4–31 tekens; leeg = standaardnaam',
      'cnt.requests': 'verzoeken', 'cnt.timeouts': 'time-outs', 'cnt.crc_errors': 'CRC-fouten', 'cnt.exceptions': 'excepties',
      'prof.sdm120': 'Eastron SDM120 (1-fase)', 'prof.sdm630': 'Eastron SDM630 (3-fase)', 'prof.generic': 'Generiek Modbus',
      'reg.title': 'Registers', 'reg.add': 'Register toevoegen', 'reg.del': 'Verwijderen', 'reg.n': 'Register {n}', 'reg.f3': '3 – holding', 'reg.f4': '4 – input',
      'wo.big': 'Big (hoog woord eerst)', 'wo.little': 'Little (laag woord eerst)',
      'bus.title': 'RS485-bus', 'bus.hint': '8 databits. Alle meters op de bus moeten dezelfde instellingen gebruiken.', 'par.N': 'Geen', 'par.E': 'Even', 'par.O': 'Oneven',
      'bill.none': 'Nog geen factuurgegevens.', 'bill.month': 'Maand', 'bill.first': 'Eerste initialisatie',
      'bill.cur_imp': 'Stand afname', 'bill.cur_exp': 'Stand teruglevering', 'bill.caption': 'Maandstanden en verbruik (DIFF), kWh', 'bill.nomonths': 'Nog geen maandstand.',
      'bill.reset': 'Resetten voor nieuwe huurder', 'bill.reset_ok': 'Resetten', 'bill.reset_q': 'De facturatie van “{n}” herstarten voor een nieuwe huurder? De metingen beginnen opnieuw vanaf nu en een nieuwe eerste initialisatie wordt vastgelegd; de configuratie blijft behouden. Dit kan niet ongedaan worden gemaakt.',
      'exp.title': 'Export', 'exp.download': 'Downloaden', 'exp.bad': 'Kies een meter en een periode van hoogstens 400 dagen.', 'step.raw': 'Ruwe metingen', 'step.1mo': '1 maand', 'step.1d': '1 dag',
      'wifi.status': 'Verbinding', 'wifi.list': 'Lijst verbindingen', 'wifi.scan': 'Zoeken', 'wifi.scanning': 'Zoeken…', 'wifi.none': 'Geen netwerk gevonden.',
      'wifi.signal': 'Signaal {n} van 4', 'wifi.secured': 'Beveiligd', 'wifi.open': 'Open', 'wifi.static': 'Vast IP (optioneel)', 'wifi.static_h': 'Leeg of 0.0.0.0 voor DHCP.',
      'wifi.forget': 'Dit netwerk vergeten', 'wifi.forget_q': '{s} vergeten? De gateway blijft bereikbaar via zijn eigen toegangspunt.',
      'wifi.connect': 'Verbinden', 'wifi.connecting': 'Verbinden met {s}…', 'wifi.connected': 'Verbonden met {s}, IP {ip}', 'wifi.timeout': 'Geen resultaat na 60 s.',
      'wifi.lost': 'De gateway antwoordt niet. Maak opnieuw verbinding met zijn wifi en herlaad de pagina.', 'wifi.mode': 'Modus', 'wifi.ap': 'Toegangspunt', 'wifi.sta': 'Routerverbinding',
      'wifi.nosta': 'Niet ingesteld', 'wifi.rssi': 'Signaal', 'wifi.on': 'aan', 'wifi.off': 'uit',
      'ws.connected': 'Verbonden', 'ws.connecting': 'Verbinden', 'ws.wrong_password': 'Verkeerde wifi-sleutel', 'ws.no_ap_found': 'Netwerk niet gevonden', 'ws.idle': 'Inactief', 'ws.failed': 'Verbinding mislukt',
      'mqtt.set': 'ingesteld', 'mqtt.keep': 'Leeg laten om het opgeslagen wachtwoord te behouden.', 'mqtt.state': 'Broker', 'mqtt.disc': 'Niet verbonden',
      'sys.about': 'Over', 'sys.settings': 'Instellingen', 'sys.maint': 'Resetbeheer', 'sys.serial': 'Serienummer', 'sys.mac': 'MAC', 'sys.firmware': 'Firmware',
      'sys.board': 'Bord', 'sys.ap': 'Toegangspunt', 'sys.time': 'Tijd van het toestel', 'sys.uptime': 'Actief sinds',
      'clk.src': 'Klok gezet door', 'clk.manual': 'de hand', 'clk.unset': 'nog niemand', 'clk.err': 'NTP-probleem',
      'clk.set': 'Instellen vanaf deze telefoon', 'clk.done': 'Klok ingesteld', 'f.ntp_server': 'NTP-server', 'set.ntp_h': 'host of host:poort; leeg: geen NTP.', 'sep.semi': 'puntkomma', 'sep.comma': 'komma', 'sep.dot': 'punt',
      'set.loc_h': 'Maximaal 31 tekens; gebruikt in de namen van exportbestanden.', 'sys.reboot': 'Herstarten', 'sys.reboot_q': 'De gateway nu herstarten? De metingen pauzeren ongeveer een minuut.',
      'sys.restarting': 'Herstarten', 'sys.wait': 'De gateway herstart. Deze pagina herlaadt zodra hij terug is.', 'sys.manual': 'De gateway is niet teruggekomen. Maak opnieuw verbinding met zijn wifi en herlaad de pagina.',
      'sys.backup_t': 'Back-up en herstel', 'sys.backup_h': 'De back-up bevat de configuratie (zonder wachtwoorden).', 'sys.backup': 'Back-up downloaden', 'sys.restore_f': 'Back-upbestand',
      'sys.restore': 'Herstellen', 'sys.restore_q': 'De huidige configuratie vervangen door deze back-up?',
      'sys.fw': 'Firmware-update', 'sys.fw_f': 'Firmwarebestand', 'sys.fw_h': 'De gateway herstart na de update.', 'sys.fw_q': '{n} installeren? Schakel de gateway niet uit.',
      'sys.fw_done': 'Update verzonden. De gateway herstart; deze pagina herlaadt zodra hij terug is.',
      'sys.factory': 'Fabrieksinstellingen', 'sys.factory_h': 'Wist de configuratie, gebruikers en wifi-instellingen.', 'sys.keep': 'Factuurgegevens en historiek behouden',
      'sys.factory_q1': 'De configuratie wissen? Factuurgegevens blijven behouden. Dit kan niet ongedaan worden gemaakt.', 'sys.factory_q0': 'De configuratie EN alle factuurgegevens wissen? Dit kan niet ongedaan worden gemaakt.',
      'users.add': 'Gebruiker toevoegen', 'users.edit': '{n} wijzigen', 'users.del': 'Gebruiker verwijderen', 'users.del_q': 'De gebruiker “{n}” verwijderen?', 'users.disabled': 'Uitgeschakeld',
      'users.must': 'Moet bij de volgende login het wachtwoord wijzigen', 'users.keep': 'Leeg laten om het wachtwoord te behouden.',
      'ev.all': 'Alle types', 'ev.none': 'Geen gebeurtenis.',
    },
  };

  lang = pickLang();
  D.documentElement.lang = lang;
  boot();
})();
