// netdisk web app: files, trash, shares and resumable uploads (tus 1.0.0).
// Plain JavaScript, no framework, no build step. Every name is inserted as
// text (textContent, attributes), never as markup.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const CHUNK = 8 * 1024 * 1024; // bytes per PATCH: no proxy body limit ever matters
  const PARALLEL = 2; // files uploading at once

  // ---- small helpers ----
  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids) if (kid) e.append(kid);
    return e;
  }
  function icon(name, cls) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('aria-hidden', 'true');
    if (cls) svg.setAttribute('class', cls);
    const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
    use.setAttribute('href', '#i-' + name);
    svg.append(use);
    return svg;
  }
  function button(label, iconName, onClick, extra) {
    const b = el('button', Object.assign({ type: 'button' }, extra || {}));
    if (iconName) b.append(icon(iconName));
    b.append(el('span', { class: 'label', text: label }));
    b.addEventListener('click', onClick);
    return b;
  }
  function size(n) {
    if (n === null || n === undefined) return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    const s = i === 0 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1).replace(/\.0$/, '');
    return s + ' ' + units[i];
  }
  function when(secs) {
    const d = new Date(secs * 1000);
    const p = (x) => String(x).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }
  const encPath = (path) => path.split('/').map(encodeURIComponent).join('/');
  const join = (folder, name) => (folder.endsWith('/') ? folder : folder + '/') + name;
  const baseName = (path) => path.split('/').filter(Boolean).pop() || '/';
  const parentOf = (path) => '/' + path.split('/').filter(Boolean).slice(0, -1).join('/');
  let uid = 0;
  const nextId = () => 'x' + (++uid);

  function toast(text, bad, action) {
    const t = el('div', { class: 'toast' + (bad ? ' bad' : '') }, el('span', { text }));
    if (action) t.append(el('button', { type: 'button', text: action.label, on: { click: () => { t.remove(); action.run(); } } }));
    t.append(el('button', { type: 'button', 'aria-label': 'Dismiss', text: '×', on: { click: () => t.remove() } }));
    $('toasts').append(t);
    setTimeout(() => t.remove(), bad || action ? 12000 : 5000);
  }

  // ---- the API ----
  class Failure extends Error {}
  function toLogin() {
    location.href = '/login?next=' + encodeURIComponent('/' + location.hash);
  }
  async function api(path, form) {
    const init = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (form) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
      init.body = new URLSearchParams(form).toString();
    }
    let res;
    try {
      res = await fetch('/api/' + path, init);
    } catch (e) {
      throw new Failure('The server cannot be reached. Check your connection, then try again.');
    }
    if (res.status === 401) { toLogin(); throw new Failure('Your session has ended. Please log in again.'); }
    let body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) throw new Failure((body && body.error) || `The server refused (${res.status} ${res.statusText}).`);
    return body;
  }

  // ---- account and quota ----
  let me = { user: '', used: 0, quota: null };
  async function refreshMe() {
    try { me = await api('me'); } catch (e) { return; }
    $('account-name').textContent = me.user;
    const text = me.quota === null ? `${size(me.used)} used` : `${size(me.used)} of ${size(me.quota)} used`;
    $('quota-text').textContent = text;
    const fill = $('quota-fill');
    const share = me.quota ? Math.min(1, me.used / me.quota) : 0;
    fill.style.width = (share * 100).toFixed(1) + '%';
    fill.classList.toggle('full', share > 0.9);
    $('quota').hidden = false;
  }
  const free = () => (me.quota === null ? Infinity : Math.max(0, me.quota - me.used));

  // ---- dialogs ----
  function wire(dialog) {
    dialog.querySelectorAll('.cancel').forEach((b) => b.addEventListener('click', () => dialog.close()));
  }
  ['dlg-prompt', 'dlg-confirm', 'dlg-move', 'dlg-share', 'dlg-passwd'].forEach((id) => wire($(id)));

  // Asks for a text; `act(value)` may throw a Failure, shown in the dialog.
  function ask({ title, label, value, ok, act, select }) {
    const d = $('dlg-prompt');
    $('prompt-title').textContent = title;
    $('prompt-label').textContent = label;
    $('prompt-ok').textContent = ok;
    $('prompt-error').textContent = '';
    const input = $('prompt-input');
    input.value = value || '';
    $('prompt-form').onsubmit = async (ev) => {
      ev.preventDefault();
      const v = input.value.trim();
      if (!v) { $('prompt-error').textContent = 'Type a name first.'; return; }
      try { await act(v); d.close(); } catch (e) { $('prompt-error').textContent = e.message; }
    };
    d.showModal();
    input.focus();
    if (select) input.setSelectionRange(0, select);
  }
  function confirmIt({ title, text, ok, act }) {
    const d = $('dlg-confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = ok;
    $('confirm-error').textContent = '';
    $('confirm-form').onsubmit = async (ev) => {
      ev.preventDefault();
      try { await act(); d.close(); } catch (e) { $('confirm-error').textContent = e.message; }
    };
    d.showModal();
    $('confirm-ok').focus();
  }
  function checkName(name) {
    if (name === '.' || name === '..' || name.includes('/')) throw new Failure('A name cannot be “.” or “..” or hold a “/”.');
  }

  // ---- views ----
  let view = '';
  let cwd = '/';
  function route() {
    const h = location.hash || '#/files/';
    for (const v of ['files', 'trash', 'shares']) {
      $('view-' + v).hidden = true;
      $('nav-' + v).removeAttribute('aria-current');
    }
    if (h.startsWith('#/trash')) { view = 'trash'; showTrash(); }
    else if (h.startsWith('#/shares')) { view = 'shares'; showShares(); }
    else {
      view = 'files';
      let path = '/';
      try { path = '/' + h.replace(/^#\/files\/?/, '').split('/').filter(Boolean).map(decodeURIComponent).join('/'); } catch (e) { path = '/'; }
      showFiles(path);
    }
    $('view-' + view).hidden = false;
    $('nav-' + view).setAttribute('aria-current', 'page');
  }
  const filesHash = (path) => '#/files' + encPath(path === '/' ? '/' : path + '/');

  function crumbs(path) {
    const ol = $('crumbs');
    ol.replaceChildren();
    const parts = path.split('/').filter(Boolean);
    const add = (text, target, last) => {
      const a = el('a', { href: filesHash(target), text });
      if (last) a.setAttribute('aria-current', 'page');
      ol.append(el('li', {}, a));
    };
    add('All files', '/', parts.length === 0);
    parts.forEach((p, i) => add(p, '/' + parts.slice(0, i + 1).join('/'), i === parts.length - 1));
  }

  function emptyBox(text, iconName) {
    return el('div', { class: 'empty' }, icon(iconName), el('div', { text }));
  }
  function headRow(cells) {
    return el('div', { class: 'row head', 'aria-hidden': 'true' }, ...cells.map((c) => el('div', { text: c, class: c === 'Size' ? 'size' : '' })));
  }

  async function showFiles(path) {
    cwd = path;
    crumbs(path);
    document.title = (path === '/' ? 'All files' : baseName(path)) + ' · netdisk';
    const list = $('file-list');
    let data;
    try { data = await api('list' + encPath(path === '/' ? '/' : path + '/')); } catch (e) {
      if (cwd !== path) return;
      list.replaceChildren(emptyBox(e.message, 'folder'));
      return;
    }
    if (cwd !== path || view !== 'files') return;
    list.replaceChildren(headRow(['Name', 'Size', 'Modified', '']));
    if (data.entries.length === 0) list.append(emptyBox('This folder is empty. Upload files or drop them here.', 'folder'));
    for (const e of data.entries) list.append(fileRow(path, e));
  }

  function fileRow(folder, e) {
    const path = join(folder, e.name);
    const dir = e.type === 'dir';
    const id = nextId();
    const link = dir
      ? el('a', { href: filesHash(path), id, text: e.name })
      : el('a', { href: '/files' + encPath(path), id, text: e.name });
    const sub = el('span', { class: 'sub', text: (dir ? 'Folder' : size(e.size)) + ' · ' + when(e.mtime).slice(0, 10) });
    const ops = el('div', { class: 'ops' });
    const describe = { 'aria-describedby': id, title: '' };
    const op = (label, ic, fn, cls) => {
      const b = button(label, ic, fn, Object.assign({}, describe, { title: `${label} “${e.name}”`, class: cls }));
      ops.append(b);
    };
    if (dir) {
      const zip = el('a', { class: 'op', href: '/api/zip' + encPath(path) + '/', 'aria-describedby': id, title: `Download “${e.name}” as a ZIP` },
        icon('zip'), el('span', { class: 'label', text: 'Download ZIP' }));
      ops.append(zip);
    }
    op('Share', 'share', () => shareDialog(path, e.name));
    op('Rename', 'rename', () => renameDialog(folder, e.name));
    op('Move', 'move', () => moveDialog(folder, e.name, dir));
    op('Delete', 'delete', () => deleteDialog(path, e.name, dir), 'danger');
    return el('div', { class: 'row' },
      el('div', { class: 'name' }, icon(dir ? 'folder' : 'file', dir ? 'i-folder' : 'i-file'), el('div', {}, link, sub)),
      el('div', { class: 'size', text: dir ? '—' : size(e.size), title: dir ? '' : `${e.size} bytes` }),
      el('div', { class: 'date', text: when(e.mtime) }),
      ops);
  }

  function renameDialog(folder, name) {
    const dot = name.lastIndexOf('.');
    ask({
      title: `Rename “${name}”`, label: 'New name', value: name, ok: 'Rename', select: dot > 0 ? dot : name.length,
      act: async (v) => {
        checkName(v);
        if (v === name) return;
        await api('move', { from: join(folder, name), to: join(folder, v) });
        toast(`Renamed to “${v}”.`);
        refresh();
      },
    });
  }
  // Move: a folder picker that starts in the item's folder; the user
  // browses (folders as buttons, breadcrumbs above) and chooses "Move here".
  const moving = { from: '', name: '', dir: false, at: '/' };
  function moveDialog(folder, name, dir) {
    Object.assign(moving, { from: join(folder, name), name, dir, at: folder });
    $('move-title').textContent = `Move “${name}”`;
    $('dlg-move').showModal();
    browse(folder);
  }
  // A folder cannot go into itself: the picker does not offer it.
  const within = (path) => moving.dir && (path === moving.from || path.startsWith(moving.from + '/'));
  async function browse(path) {
    moving.at = path;
    $('move-error').textContent = '';
    moveCrumbs(path);
    const here = path === parentOf(moving.from);
    $('move-ok').disabled = here;
    $('move-ok').title = here ? 'It is in this folder already' : '';
    const list = $('move-folders');
    list.replaceChildren(el('li', { class: 'hint', text: 'Loading…' }));
    let data;
    try { data = await api('list' + encPath(path === '/' ? '/' : path + '/')); } catch (e) {
      if (moving.at === path) { list.replaceChildren(); $('move-error').textContent = e.message; }
      return;
    }
    if (moving.at !== path) return;
    const dirs = data.entries.filter((e) => e.type === 'dir' && !within(join(path, e.name)));
    list.replaceChildren(...dirs.map((e) => el('li', {}, el('button', {
      type: 'button', title: `Open ${join(path, e.name)}`, on: { click: () => browse(join(path, e.name)) },
    }, icon('folder', 'i-folder'), el('span', { text: e.name })))));
    if (!dirs.length) list.append(el('li', { class: 'hint', text: 'No folders in here.' }));
    const first = list.querySelector('button') || ($('move-ok').disabled ? null : $('move-ok'));
    if (first && $('dlg-move').open) first.focus();
  }
  function moveCrumbs(path) {
    const parts = path.split('/').filter(Boolean);
    const add = (text, target) => {
      const last = target === path;
      const b = el('button', { type: 'button', class: 'plain', text, 'aria-current': last ? 'location' : null });
      b.addEventListener('click', () => browse(target));
      return el('li', {}, b);
    };
    $('move-crumbs').replaceChildren(add('All files', '/'), ...parts.map((p, i) => add(p, '/' + parts.slice(0, i + 1).join('/'))));
  }
  $('move-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const dest = moving.at;
    try {
      await api('move', { from: moving.from, to: join(dest, moving.name) });
      $('dlg-move').close();
      toast(`Moved “${moving.name}” to ${dest === '/' ? 'All files' : dest}.`);
      refresh();
    } catch (e) { $('move-error').textContent = e.message; }
  });
  function deleteDialog(path, name, dir) {
    confirmIt({
      title: `Delete “${name}”?`,
      text: (dir ? 'The folder and everything in it go' : 'It goes') + ' to the trash: you can restore it from Trash until you empty it.',
      ok: 'Delete',
      act: async () => {
        await api('delete', { path });
        toast(`“${name}” was moved to the trash.`, false, { label: 'Undo', run: () => undoDelete(path) });
        refresh();
      },
    });
  }
  async function undoDelete(path) {
    try {
      const t = await api('trash');
      const hit = t.entries.find((x) => x.path === path);
      if (!hit) throw new Failure('It is no longer in the trash.');
      await api('restore', { id: hit.id });
      toast(`“${baseName(path)}” is back.`);
      refresh();
    } catch (e) { toast(e.message, true); }
  }
  $('mkdir-btn').addEventListener('click', () => ask({
    title: 'New folder', label: 'Name', value: '', ok: 'Create',
    act: async (v) => { checkName(v); await api('mkdir', { path: join(cwd, v) }); refresh(); },
  }));

  // ---- sharing ----
  let sharing = null;
  function shareDialog(path, name) {
    sharing = path;
    $('share-title').textContent = `Share “${name}”`;
    $('share-make').hidden = false;
    $('share-made').hidden = true;
    $('share-create').hidden = false;
    $('share-close').textContent = 'Cancel';
    $('share-error').textContent = '';
    $('dlg-share').showModal();
    $('share-days').focus();
  }
  $('share-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('share', { path: sharing, days: $('share-days').value });
      $('share-link').value = r.link;
      $('share-expiry').textContent = r.expires ? `The link works until ${when(r.expires)}.` : 'The link works until you stop sharing.';
      $('share-make').hidden = true;
      $('share-made').hidden = false;
      $('share-create').hidden = true;
      $('share-close').textContent = 'Done';
      $('share-link').focus();
      $('share-link').select();
    } catch (e) { $('share-error').textContent = e.message; }
  });
  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const area = el('textarea', { class: 'sprite' });
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    toast('Link copied.');
  }
  $('share-copy').addEventListener('click', () => copy($('share-link').value));

  async function showShares() {
    document.title = 'Shares · netdisk';
    const list = $('share-list');
    list.classList.add('shares');
    let data;
    try { data = await api('shares'); } catch (e) { list.replaceChildren(emptyBox(e.message, 'link')); return; }
    if (view !== 'shares') return;
    list.replaceChildren(headRow(['Link', 'Path', 'Expires', '']));
    if (data.shares.length === 0) list.append(emptyBox('You share nothing. Use Share on a file or folder to get a link.', 'link'));
    for (const s of data.shares) {
      const id = nextId();
      const exp = s.expires ? when(s.expires) : 'never';
      list.append(el('div', { class: 'row' },
        el('div', { class: 'name' }, icon(s.type === 'dir' ? 'folder' : 'file', s.type === 'dir' ? 'i-folder' : 'i-file'),
          el('div', {}, el('a', { href: s.link, class: 'link-cell', id, text: s.link, target: '_blank', rel: 'noopener' }),
            el('span', { class: 'sub', text: `${s.path} · expires ${exp}` }))),
        el('div', { class: 'date', text: s.path, title: s.path }),
        el('div', { class: 'date', text: exp }),
        el('div', { class: 'ops' },
          button('Copy link', 'link', () => copy(s.link), { 'aria-describedby': id, title: `Copy the link of ${s.path}` }),
          button('Stop sharing', 'delete', async () => {
            try { await api('unshare', { code: s.code }); toast(`${s.path} is no longer shared; its link stopped working.`); showShares(); } catch (e) { toast(e.message, true); }
          }, { 'aria-describedby': id, class: 'danger', title: `Stop sharing ${s.path}` }))));
    }
  }

  // ---- trash ----
  async function showTrash() {
    document.title = 'Trash · netdisk';
    const list = $('trash-list');
    list.classList.add('trash');
    let data;
    try { data = await api('trash'); } catch (e) { list.replaceChildren(emptyBox(e.message, 'trash')); return; }
    if (view !== 'trash') return;
    $('empty-trash').disabled = data.entries.length === 0;
    list.replaceChildren(headRow(['Original place', 'Size', 'Deleted', '']));
    if (data.entries.length === 0) list.append(emptyBox('The trash is empty.', 'trash'));
    for (const t of data.entries) {
      const id = nextId();
      const dir = t.type === 'dir';
      list.append(el('div', { class: 'row' },
        el('div', { class: 'name' }, icon(dir ? 'folder' : 'file', dir ? 'i-folder' : 'i-file'),
          el('div', {}, el('span', { class: 'label', id, text: t.path }), el('span', { class: 'sub', text: `${dir ? 'Folder' : size(t.size)} · deleted ${when(t.deleted)}` }))),
        el('div', { class: 'size', text: dir ? '—' : size(t.size) }),
        el('div', { class: 'date', text: when(t.deleted) }),
        el('div', { class: 'ops' },
          button('Restore', 'upload', async () => {
            try { const r = await api('restore', { id: t.id }); toast(`Restored to ${r.path}.`); showTrash(); refreshMe(); } catch (e) { toast(e.message, true); }
          }, { 'aria-describedby': id, title: `Restore ${t.path}` }),
          button('Delete forever', 'delete', () => confirmIt({
            title: `Delete “${baseName(t.path)}” forever?`, text: 'This cannot be undone.', ok: 'Delete forever',
            act: async () => { await api('purge', { id: t.id }); showTrash(); refreshMe(); },
          }), { 'aria-describedby': id, class: 'danger', title: `Delete ${t.path} forever` }))));
    }
  }
  $('empty-trash').addEventListener('click', () => confirmIt({
    title: 'Empty the trash?', text: 'Everything in the trash is deleted forever. This cannot be undone.', ok: 'Empty trash',
    act: async () => { await api('purge', { all: '1' }); showTrash(); refreshMe(); },
  }));

  // ---- password ----
  $('passwd-open').addEventListener('click', () => {
    $('account-menu').open = false;
    ['pw-old', 'pw-new', 'pw-again'].forEach((i) => { $(i).value = ''; });
    $('passwd-error').textContent = '';
    $('dlg-passwd').showModal();
    $('pw-old').focus();
  });
  $('passwd-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if ($('pw-new').value !== $('pw-again').value) { $('passwd-error').textContent = 'The two new passwords differ.'; return; }
    try {
      await api('passwd', { old: $('pw-old').value, new: $('pw-new').value });
      $('dlg-passwd').close();
      toast('Password changed. Every session was logged out: log in again with the new password.');
      setTimeout(toLogin, 2500);
    } catch (e) { $('passwd-error').textContent = e.message; }
  });

  function refresh() {
    refreshMe();
    if (view === 'files') showFiles(cwd);
  }

  // ---- uploads: a tus 1.0.0 client ----
  const queue = [];
  const items = [];
  let running = 0;
  const memKey = (folder, f) => `tus:${folder}\n${f.name}\n${f.size}\n${f.lastModified}`;
  const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

  function addFiles(folder, list) {
    for (const { file, rel } of list) {
      const dir = rel ? join(folder, rel) : folder;
      const item = { file, folder: dir.replace(/\/$/, '') || '/', sent: 0, state: 'waiting', xhr: null, url: null, samples: [] };
      item.row = uploadRow(item);
      items.push(item);
      queue.push(item);
    }
    $('uploads').hidden = false;
    totals();
    pump();
  }
  function uploadRow(item) {
    const name = el('div', { class: 'up-name', text: item.file.name, title: join(item.folder, item.file.name) });
    const pct = el('span', { text: '0%' });
    const speed = el('span', { text: 'waiting' });
    const bar = el('span');
    const cancel = button('Cancel', null, () => cancelUpload(item), { title: `Cancel “${item.file.name}”` });
    const li = el('li', { class: 'up' }, name, cancel, el('div', { class: 'up-info' }, pct, speed), el('div', { class: 'up-bar' }, bar));
    $('upload-list').append(li);
    return { li, pct, speed, bar, cancel };
  }
  function show(item) {
    const { file } = item;
    const p = file.size ? Math.floor((item.sent / file.size) * 100) : (item.state === 'done' ? 100 : 0);
    item.row.pct.textContent = p + '%';
    item.row.bar.style.width = p + '%';
    if (item.state === 'sending') {
      const s = item.samples;
      const rate = s.length > 1 ? (s[s.length - 1][1] - s[0][1]) / Math.max(0.001, (s[s.length - 1][0] - s[0][0]) / 1000) : 0;
      item.row.speed.textContent = size(Math.round(rate)) + '/s';
    }
  }
  function finish(item, state, text) {
    item.state = state;
    item.row.li.classList.add(state);
    item.row.speed.textContent = text;
    item.row.cancel.hidden = true;
    show(item);
    totals();
  }
  function totals() {
    const all = items.length;
    const done = items.filter((i) => i.state === 'done').length;
    const failed = items.filter((i) => i.state === 'failed').length;
    const bytes = items.reduce((a, i) => a + i.file.size, 0);
    const sent = items.reduce((a, i) => a + (i.state === 'cancelled' ? 0 : i.sent), 0);
    const pct = bytes ? Math.floor((sent / bytes) * 100) : 100;
    let text = `${done} of ${all} uploaded · ${pct}% of ${size(bytes)}`;
    if (failed) text += ` · ${failed} failed`;
    $('uploads-total').textContent = text;
  }
  $('uploads-close').addEventListener('click', () => {
    $('uploads').hidden = true;
    for (let i = items.length - 1; i >= 0; i--) {
      if (['done', 'failed', 'cancelled'].includes(items[i].state)) { items[i].row.li.remove(); items.splice(i, 1); }
    }
  });

  function pump() {
    while (running < PARALLEL && queue.length) {
      const item = queue.shift();
      if (item.state !== 'waiting') continue;
      running++;
      upload(item).catch((e) => { if (item.state !== 'cancelled') finish(item, 'failed', e.message); }).finally(() => { running--; pump(); });
    }
  }

  // One request of the upload; resolves to the XHR once answered.
  function send(item, method, url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      item.xhr = x;
      x.open(method, url);
      x.setRequestHeader('Tus-Resumable', '1.0.0');
      for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
      if (onProgress) x.upload.onprogress = onProgress;
      x.onload = () => resolve(x);
      x.onerror = () => reject(new Failure('The connection was lost. Choose the same file again in this folder: it continues where it stopped.'));
      x.onabort = () => reject(new Failure('Cancelled.'));
      x.send(body);
    });
  }

  function why(x, item) {
    const name = `“${item.file.name}”`;
    switch (x.status) {
      case 401: toLogin(); return 'Your session has ended. Please log in again.';
      case 403: return 'The server refused this upload (403).';
      case 413: return `${name} is larger than this server accepts.`;
      case 423: return `${name} is being uploaded from somewhere else right now. Try again when that upload ends.`;
      case 460: return `${name} arrived damaged (its checksum did not match) and was not kept. Upload it again.`;
      case 507: return `Not enough space: ${name} needs ${size(item.file.size)}, ${size(free())} are free.`;
      default: return (x.responseText || '').trim() || `The upload of ${name} failed (${x.status} ${x.statusText}).`;
    }
  }

  // 423: another request holds this upload for now. The server waits out
  // one of its own that lets go by itself (a cut PATCH saving its bytes),
  // and shuts one that has sent nothing for 10 s (a connection dead
  // without a word); so the page asks again after a wait, for about 20 s,
  // before it says so in a sentence.
  const LOCKED_WAITS = [500, 1000, 2000, 4000, 6000, 8000];
  async function unlocked(item, ask) {
    for (let i = 0; ; i++) {
      const x = await ask();
      if (x.status !== 423 || i >= LOCKED_WAITS.length || item.state === 'cancelled') return x;
      item.row.speed.textContent = 'waiting for the upload to be free';
      await new Promise((r) => setTimeout(r, LOCKED_WAITS[i]));
    }
  }
  // Where the server's copy of the upload stands now (HEAD).
  async function offsetNow(item) {
    const h = await unlocked(item, () => send(item, 'HEAD', item.url, {}, null));
    if (h.status !== 200) throw new Failure(why(h, item));
    item.sent = Number(h.getResponseHeader('Upload-Offset'));
  }

  // Finds where an earlier upload of this file stopped: the URL this
  // browser kept, else one the server still holds for the same path.
  async function previous(item) {
    const key = memKey(item.folder, item.file);
    const kept = localStorage.getItem(key);
    const target = join(item.folder, item.file.name);
    const mtime = Math.floor(item.file.lastModified / 1000);
    const candidates = kept ? [kept] : [];
    if (!kept) {
      try {
        const u = await api('uploads');
        for (const up of u.uploads) if (up.path === target && up.size === item.file.size && (up.mtime === null || up.mtime === mtime)) candidates.push(up.url);
      } catch (e) { /* none */ }
    }
    for (const url of candidates) {
      const x = await unlocked(item, () => send(item, 'HEAD', url, {}, null));
      if (x.status === 200) {
        const offset = Number(x.getResponseHeader('Upload-Offset'));
        if (Number(x.getResponseHeader('Upload-Length')) === item.file.size && offset <= item.file.size) return { url, offset };
      }
      if (x.status !== 404 && x.status !== 200) throw new Failure(why(x, item));
    }
    localStorage.removeItem(key);
    return null;
  }

  async function upload(item) {
    const { file } = item;
    item.state = 'sending';
    item.row.speed.textContent = 'starting';
    if (file.size > free()) throw new Failure(`Not enough space: “${file.name}” needs ${size(file.size)}, ${size(free())} are free.`);
    const key = memKey(item.folder, file);
    let found = await previous(item);
    if (!found) {
      const meta = {
        filename: file.name, folder: item.folder, mtime: String(Math.floor(file.lastModified / 1000)),
      };
      const md = Object.entries(meta).map(([k, v]) => k + ' ' + b64(v)).join(',');
      const x = await send(item, 'POST', '/tus/', { 'Upload-Length': String(file.size), 'Upload-Metadata': md }, null);
      if (x.status !== 201) throw new Failure(why(x, item));
      const url = new URL(x.getResponseHeader('Location'), location.href).pathname;
      found = { url, offset: 0 };
      localStorage.setItem(key, url);
    }
    item.url = found.url;
    item.sent = found.offset;
    item.resumedAt = found.offset;
    if (file.size === 0) {
      // Created empty: the creation itself committed it.
    }
    let locked = 0; // PATCHes refused with 423 in a row
    while (item.sent < file.size) {
      const start = item.sent;
      const end = Math.min(file.size, start + CHUNK);
      const x = await send(item, 'PATCH', item.url,
        { 'Upload-Offset': String(start), 'Content-Type': 'application/offset+octet-stream' }, file.slice(start, end),
        (ev) => {
          item.sent = start + ev.loaded;
          const now = performance.now();
          item.samples.push([now, item.sent]);
          while (item.samples.length > 2 && now - item.samples[0][0] > 3000) item.samples.shift();
          show(item);
          totals();
        });
      // 409: the server holds another offset (a PATCH re-sent by the
      // browser after a cut); 423: held by another request for now.
      if (x.status === 409 || (x.status === 423 && locked < LOCKED_WAITS.length)) {
        if (x.status === 423) await new Promise((r) => setTimeout(r, LOCKED_WAITS[locked++]));
        await offsetNow(item);
        continue;
      }
      locked = 0;
      if (x.status === 404) { localStorage.removeItem(key); throw new Failure(`The upload of “${file.name}” expired on the server. Choose the file again to start over.`); }
      if (x.status !== 204) {
        if (x.status === 460) localStorage.removeItem(key);
        throw new Failure(why(x, item));
      }
      item.sent = Number(x.getResponseHeader('Upload-Offset'));
      show(item);
    }
    localStorage.removeItem(key);
    const resumed = item.resumedAt > 0 ? ` · resumed at ${size(item.resumedAt)}` : '';
    finish(item, 'done', 'done' + resumed);
    item.row.li.dataset.resumedAt = String(item.resumedAt);
    if (view === 'files' && item.folder === cwd) showFiles(cwd);
    else if (view === 'files' && item.folder.startsWith(join(cwd, ''))) showFiles(cwd);
    refreshMe();
  }

  async function cancelUpload(item) {
    const was = item.state;
    item.state = 'cancelled';
    if (item.xhr) item.xhr.abort();
    finish(item, 'cancelled', 'cancelled');
    if (item.url && was !== 'done') {
      localStorage.removeItem(memKey(item.folder, item.file));
      // The aborted PATCH may hold the upload a moment longer (423).
      for (let wait = 250; wait < 8000; wait *= 2) {
        let res = null;
        try { res = await fetch(item.url, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0' }, credentials: 'same-origin' }); } catch (e) { /* retried */ }
        if (res && res.status !== 423) break;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  // ---- choosing files ----
  $('upload-btn').addEventListener('click', () => $('file-input').click());
  $('upload-folder-btn').addEventListener('click', () => $('folder-input').click());
  $('file-input').addEventListener('change', (ev) => {
    addFiles(cwd, Array.from(ev.target.files).map((file) => ({ file, rel: '' })));
    ev.target.value = ''; // so choosing the same file again fires again
  });
  $('folder-input').addEventListener('change', (ev) => {
    addFiles(cwd, Array.from(ev.target.files).map((file) => ({ file, rel: parentOf('/' + file.webkitRelativePath).slice(1) })));
    ev.target.value = '';
  });

  // Drag and drop, folders included (walked through the entries API).
  let dragDepth = 0;
  const hasFiles = (ev) => ev.dataTransfer && Array.from(ev.dataTransfer.types || []).includes('Files');
  document.addEventListener('dragenter', (ev) => {
    if (!hasFiles(ev) || view !== 'files') return;
    ev.preventDefault();
    dragDepth++;
    $('drop-where').textContent = cwd === '/' ? 'All files' : baseName(cwd);
    $('drop').hidden = false;
  });
  document.addEventListener('dragover', (ev) => { if (hasFiles(ev)) ev.preventDefault(); });
  document.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; $('drop').hidden = true; } });
  document.addEventListener('drop', async (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    dragDepth = 0;
    $('drop').hidden = true;
    if (view !== 'files') { toast('Open a folder in Files to upload into it.', true); return; }
    const folder = cwd;
    const entries = Array.from(ev.dataTransfer.items || []).map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    if (!entries.length) { addFiles(folder, Array.from(ev.dataTransfer.files).map((file) => ({ file, rel: '' }))); return; }
    const found = [];
    const walk = async (entry, rel) => {
      if (entry.isFile) {
        const file = await new Promise((res, rej) => entry.file(res, rej));
        found.push({ file, rel });
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const sub = rel ? rel + '/' + entry.name : entry.name;
        for (;;) {
          const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
          if (!batch.length) break;
          for (const e of batch) await walk(e, sub);
        }
      }
    };
    try { for (const e of entries) await walk(e, ''); } catch (e) { toast('Some dropped items could not be read.', true); }
    addFiles(folder, found);
  });

  window.addEventListener('beforeunload', (ev) => {
    if (items.some((i) => i.state === 'sending' || i.state === 'waiting')) { ev.preventDefault(); ev.returnValue = ''; }
  });
  document.addEventListener('click', (ev) => {
    const menu = $('account-menu');
    if (menu.open && !menu.contains(ev.target)) menu.open = false;
  });
  window.addEventListener('hashchange', route);
  refreshMe();
  route();
})();
