// Sharing an album with another user (docs/security.md "Sharing"): the owner's
// 共享 button on an album card opens this dialog (who it is shared with, add a
// user as 只读 viewer or 可添加 contributor, end a share); a recipient's button
// leaves the album. organise.js asks through a DOM event:
//   sa:share {album}   album = the /api/albums item (id, name, role, owner)
// and this module answers sa:albums-changed when the album list should reload.
import { FocusTrap } from './dialog.js';

const ROLE_NAMES = { viewer: '只读', contributor: '可添加照片' };

async function call(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const code = data && data.error ? data.error.code : '';
    const msg = res.status === 404 && code === 'not_found' && body && body.username
      ? `没有名为 “${body.username}” 的用户`
      : res.status === 403 ? '只有相册的主人可以这样做' : (data && data.error ? data.error.message : res.statusText);
    throw new Error(msg);
  }
  return data;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function toast(msg, isError = false) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = el('div', 'toast' + (isError ? ' error' : ''), msg);
  box.appendChild(t);
  setTimeout(() => t.remove(), isError ? 5000 : 2500);
}

let dialog = null;
let trap = null;

function close() {
  if (!dialog) return;
  dialog.hidden = true;
  if (trap) trap.release();
}

// Built once, on first use: a modal like the album picker.
function ensureDialog() {
  if (dialog) return dialog;
  dialog = el('div', 'modal share-dialog');
  dialog.id = 'share-dialog';
  dialog.hidden = true;
  dialog.setAttribute('role', 'dialog');
  dialog.setAttribute('aria-modal', 'true');
  dialog.setAttribute('aria-labelledby', 'share-title');
  const backdrop = el('div', 'modal-backdrop');
  backdrop.addEventListener('click', close);
  const card = el('div', 'settings-card');
  const head = el('div', 'detail-head');
  const title = el('h2', '', '共享相册');
  title.id = 'share-title';
  const x = el('button', 'btn btn-icon btn-ghost', '✕');
  x.type = 'button';
  x.setAttribute('aria-label', '关闭');
  x.addEventListener('click', close);
  head.append(title, x);
  const list = el('ul', 'share-list');
  list.id = 'share-list';
  const form = el('form', 'share-form');
  form.id = 'share-form';
  const user = el('input');
  user.id = 'share-user';
  user.placeholder = '用户名';
  user.setAttribute('aria-label', '共享给哪个用户');
  user.autocomplete = 'off';
  const role = el('select');
  role.id = 'share-role';
  role.setAttribute('aria-label', '权限');
  for (const [v, n] of Object.entries(ROLE_NAMES)) {
    const o = el('option', '', n);
    o.value = v;
    role.appendChild(o);
  }
  const add = el('button', 'btn btn-primary', '共享');
  add.type = 'submit';
  form.append(user, role, add);
  const note = el('p', 'muted share-note',
    '共享后对方只能在这个相册里看到（并在相册内搜索）这些照片；「可添加照片」的人加入的照片仍属于他们自己。');
  card.append(head, list, form, note);
  dialog.append(backdrop, card);
  document.body.appendChild(dialog);
  dialog.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });
  trap = new FocusTrap(dialog);
  return dialog;
}

async function renderShares(album) {
  const list = document.getElementById('share-list');
  list.replaceChildren();
  let items = [];
  try { ({ items } = await call('GET', `/api/albums/${album.id}/shares`)); } catch (e) { return toast(e.message, true); }
  if (!items.length) list.appendChild(el('li', 'muted', '还没有共享给任何人。'));
  for (const s of items) {
    const li = el('li', 'share-item');
    li.dataset.user = s.username;
    li.append(el('span', 'share-name', s.username), el('span', 'share-role', ROLE_NAMES[s.role] || s.role));
    const end = el('button', 'btn btn-ghost danger', '取消共享');
    end.type = 'button';
    end.addEventListener('click', async () => {
      try {
        await call('DELETE', `/api/albums/${album.id}/shares/${s.user_id}`);
        toast(`已取消与 ${s.username} 的共享`);
        renderShares(album);
      } catch (e) { toast(e.message, true); }
    });
    li.appendChild(end);
    list.appendChild(li);
  }
}

async function openOwner(album) {
  const d = ensureDialog();
  document.getElementById('share-title').textContent = `共享相册 “${album.name}”`;
  const form = document.getElementById('share-form');
  form.onsubmit = async (e) => {
    e.preventDefault();
    const username = document.getElementById('share-user').value.trim();
    const role = document.getElementById('share-role').value;
    if (!username) return toast('请输入用户名', true);
    try {
      await call('POST', `/api/albums/${album.id}/shares`, { username, role });
      toast(`已共享给 ${username}（${ROLE_NAMES[role]}）`);
      document.getElementById('share-user').value = '';
      renderShares(album);
    } catch (err) { toast('共享失败：' + err.message, true); }
  };
  d.hidden = false;
  trap.activate(document.getElementById('share-user'));
  await renderShares(album);
}

async function leave(album) {
  if (!confirm(`退出 ${album.owner || ''} 共享给你的相册 “${album.name}”？`)) return;
  try {
    const me = await call('GET', '/api/auth/me');
    await call('DELETE', `/api/albums/${album.id}/shares/${me.id}`);
    toast('已退出共享相册');
    document.dispatchEvent(new CustomEvent('sa:albums-changed'));
  } catch (e) { toast(e.message, true); }
}

document.addEventListener('sa:share', (e) => {
  const album = e.detail;
  if (!album) return;
  if (!album.role || album.role === 'owner') openOwner(album);
  else leave(album);
});
