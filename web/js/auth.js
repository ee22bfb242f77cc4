// Sign-in for the page: the login screen, the first-run "创建管理员账号" screen,
// the 账号 dialog (password, API tokens, sign out) and, for admins, 设置 → 用户.
// app.js waits for signIn() before it loads anything.

import { errorText } from './errors.js';

async function call(method, url, body) {
  const init = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try { res = await fetch(url, init); } catch (e) { throw { status: 0, code: 'network', message: '无法连接到相册服务' }; }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw { status: res.status, code: err.code || 'http_' + res.status, message: err.message || res.statusText,
            retryAfter: +res.headers.get('Retry-After') || 0 };
  }
  return data;
}

const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};

// Chinese text for the server's error codes (the API's messages are English).
function zhError(e) {
  if (e.status === 429) return `尝试次数过多，请 ${e.retryAfter || 60} 秒后再试`;
  if (e.code === 'network') return e.message;
  if (e.status === 401) return '用户名或密码错误';
  if (e.status === 403) return e.code === 'permission_denied' && /password/.test(e.message) ? '当前密码不正确' : '没有权限';
  if (e.code === 'already_exists') return '该用户名已存在';
  if (e.code === 'invalid_argument' && /password/.test(e.message)) return '密码至少需要 8 个字符';
  if (e.code === 'invalid_argument' && /name/.test(e.message)) return '用户名不能为空，且不能包含空格、冒号或斜杠';
  if (/photo/.test(e.message)) return '该用户还有照片，无法删除';
  if (/last admin/.test(e.message)) return '不能删除最后一个管理员';
  return '操作失败：' + errorText(e);  // never the server's (English) message
}

// The full-page form for signing in or creating the first admin.
function gate(setup) {
  return new Promise(() => {
    document.body.classList.add('auth-locked');
    const msg = el('p', { class: 'auth-error', role: 'alert' });
    const user = el('input', { id: 'auth-user', name: 'username', autocomplete: 'username', required: '',
                               autocapitalize: 'none', spellcheck: 'false' });
    const pass = el('input', { id: 'auth-pass', name: 'password', type: 'password', required: '',
                               autocomplete: setup ? 'new-password' : 'current-password' });
    const pass2 = el('input', { id: 'auth-pass2', type: 'password', autocomplete: 'new-password' });
    const submit = el('button', { class: 'btn btn-primary', type: 'submit', id: 'auth-submit' },
                      setup ? '创建管理员账号' : '登录');
    const form = el('form', { class: 'auth-card', id: 'auth-form' },
      el('h1', {}, '智能相册'),
      el('p', { class: 'auth-hint' }, setup ? '第一次使用：创建管理员账号。之后可以在「设置 → 用户」里为家人添加账号。'
                                            : '请登录以查看相册'),
      el('label', {}, '用户名', user),
      el('label', {}, '密码', pass),
      ...(setup ? [el('label', {}, '再次输入密码', pass2)] : []),
      msg, submit);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      msg.textContent = '';
      if (setup && pass.value !== pass2.value) { msg.textContent = '两次输入的密码不一致'; return; }
      submit.disabled = true;
      try {
        await call('POST', setup ? '/api/auth/setup' : '/api/auth/login', { username: user.value.trim(), password: pass.value });
        location.reload();
      } catch (e) {
        msg.textContent = zhError(e);
        submit.disabled = false;
      }
    });
    document.body.append(el('div', { class: 'auth-screen', id: 'auth-screen' }, form));
    user.focus();
  });
}

function dialog(title, ...content) {
  const close = () => wrap.remove();
  const wrap = el('div', { class: 'modal auth-modal', role: 'dialog', 'aria-modal': 'true' },
    el('div', { class: 'modal-backdrop', onclick: close }),
    el('div', { class: 'settings-card' },
      el('div', { class: 'detail-head' }, el('h2', {}, title),
         el('button', { class: 'btn btn-icon btn-ghost', type: 'button', 'aria-label': '关闭', onclick: close }, '✕')),
      ...content));
  document.body.append(wrap);
  return wrap;
}

function passwordForm(onSubmit, fields) {
  const msg = el('p', { class: 'settings-status', role: 'status' });
  const inputs = fields.map(([name, label]) => [name, el('input', { type: 'password', name, autocomplete: 'new-password' }), label]);
  const form = el('form', { class: 'auth-inline' }, ...inputs.map(([, i, l]) => el('label', {}, l, i)),
    el('button', { class: 'btn btn-primary', type: 'submit' }, '保存'), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(inputs.map(([n, i]) => [n, i.value]));
    try { await onSubmit(values); msg.textContent = '已保存'; form.reset(); } catch (e) { msg.textContent = zhError(e); }
  });
  return form;
}

async function openAccount(me) {
  const tokens = el('ul', { class: 'auth-list', id: 'token-list' });
  const shown = el('p', { class: 'auth-token' });
  const refresh = async () => {
    const { items } = await call('GET', '/api/tokens');
    tokens.replaceChildren(...items.map((t) => el('li', {},
      el('span', {}, `${t.label || '(无名称)'} · 创建于 ${t.created_at.slice(0, 10)}`),
      el('button', { class: 'btn btn-danger', type: 'button',
                     onclick: async () => { await call('DELETE', `/api/tokens/${t.id}`); refresh(); } }, '撤销'))));
  };
  const label = el('input', { placeholder: '用途，例如：备份脚本', id: 'token-label' });
  const create = el('form', { class: 'auth-inline' }, label, el('button', { class: 'btn', type: 'submit' }, '创建令牌'));
  create.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const t = await call('POST', '/api/tokens', { label: label.value });
      shown.textContent = `新令牌（只显示这一次）：${t.token}`;
      label.value = '';
      refresh();
    } catch (e) { shown.textContent = zhError(e); }
  });
  dialog('账号',
    el('p', {}, `当前用户：${me.username}${me.admin ? '（管理员）' : ''}`),
    el('h3', {}, '修改密码'),
    passwordForm((v) => call('PUT', '/api/auth/password', v), [['current_password', '当前密码'], ['new_password', '新密码']]),
    el('h3', {}, 'API 令牌'),
    el('p', { class: 'auth-hint' }, '脚本可用 Authorization: Bearer 令牌 访问相册。'),
    create, shown, tokens,
    el('button', { class: 'btn', type: 'button', id: 'sign-out',
                   onclick: async () => { try { await call('POST', '/api/auth/logout'); } catch (e) { /* gone already */ } location.reload(); } },
       '退出登录'));
  refresh();
}

function userSection() {
  const list = el('ul', { class: 'auth-list', id: 'user-list' });
  const msg = el('p', { class: 'settings-status', role: 'status' });
  const refresh = async () => {
    const { items } = await call('GET', '/api/users');
    list.replaceChildren(...items.map((u) => el('li', {},
      el('span', {}, u.username + (u.admin ? '（管理员）' : '')),
      el('button', { class: 'btn', type: 'button', onclick: async () => {
        const pw = prompt(`为 ${u.username} 设置新密码（至少 8 个字符）`);
        if (!pw) return;
        try { await call('PUT', `/api/users/${u.id}/password`, { password: pw }); msg.textContent = '密码已重置'; } catch (e) { msg.textContent = zhError(e); }
      } }, '重置密码'),
      el('button', { class: 'btn btn-danger', type: 'button', onclick: async () => {
        if (!confirm(`删除用户 ${u.username}？`)) return;
        try { await call('DELETE', `/api/users/${u.id}`); refresh(); } catch (e) { msg.textContent = zhError(e); }
      } }, '删除'))));
  };
  const name = el('input', { placeholder: '用户名', id: 'new-user-name', autocapitalize: 'none' });
  const pw = el('input', { placeholder: '初始密码', type: 'password', id: 'new-user-pass', autocomplete: 'new-password' });
  const admin = el('input', { type: 'checkbox', id: 'new-user-admin' });
  const add = el('form', { class: 'auth-inline', id: 'add-user' }, name, pw, el('label', { class: 'check' }, admin, '管理员'),
                 el('button', { class: 'btn btn-primary', type: 'submit' }, '添加用户'));
  add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await call('POST', '/api/users', { username: name.value.trim(), password: pw.value, admin: admin.checked });
      add.reset();
      msg.textContent = '已添加';
      refresh();
    } catch (e) { msg.textContent = zhError(e); }
  });
  refresh();
  return el('section', { id: 'users-section' }, el('h3', {}, '用户'), list, add, msg);
}

// Resolves once the page may load the album (signed in, or sign-in is off);
// otherwise shows the login or first-run screen and never resolves.
export async function signIn() {
  let me;
  try {
    me = await call('GET', '/api/auth/me');
  } catch (e) {
    if (e.status === 401) return gate(e.code === 'setup_required');
    return;  // server away: let the page show its own error
  }
  // Any later 401 (signed out elsewhere, session expired) brings the login back.
  window.addEventListener('sa-unauthenticated', () => location.reload());
  if (!me.auth) return;
  const btn = el('button', { class: 'btn', type: 'button', id: 'account-btn', title: '账号' }, me.username);
  btn.addEventListener('click', () => openAccount(me));
  document.querySelector('.topbar .actions')?.prepend(btn);
  if (me.admin) document.querySelector('#settings .settings-card')?.append(userSection());
}
