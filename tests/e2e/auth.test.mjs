// Browser test of sign-in: the real `smart-album serve` with accounts on,
// driven through Debian's chromium. First-run setup (创建管理员账号) only with
// zero users, the login page (wrong password, then right), the session cookie's
// flags, 设置 → 用户 for an admin, 账号 → sign out, and a page on a second
// origin whose cross-origin POSTs (fetch no-cors, a multipart upload, a form
// post) are refused by the album.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Albums, launchChromium, serverEnv } from './harness.mjs';

const BIN = process.env.SA_BINARY;
const DATA = process.env.SA_TEST_DATA;
const SRC = process.env.SA_SOURCE_DIR;
assert.ok(BIN && DATA && SRC, 'SA_BINARY, SA_TEST_DATA and SA_SOURCE_DIR must be set (ctest sets them)');
const SHOTS = path.join(path.dirname(BIN), 'e2e-screenshots');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-e2e-auth-'));
let browser, evil;
const env = serverEnv(tmp);
const albums = new Albums(BIN, SRC, tmp);

// Accounts on (no --auth off): sign-in is what these tests are about.
const startAlbum = async (name, extraArgs = []) => (await albums.start(name, extraArgs, 0, { auth: true })).base;

function addUser(name, user, password, admin) {
  const r = spawnSync(BIN, ['user', 'add', user, '--password-stdin', '--data-dir', path.join(tmp, name),
    ...(admin ? ['--admin'] : [])], { env, input: password + '\n', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

async function login(base, username, password) {
  const r = await fetch(base + '/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }) });
  assert.equal(r.status, 200);
  return r.headers.get('set-cookie').split(';')[0];
}

// A page on another origin (another port of 127.0.0.1: same site, so even a
// SameSite=Strict cookie goes along; only the album's Origin check stops it).
function startEvilSite(target) {
  const page = `<!doctype html><html><body>
<form id="f" method="POST" action="${target}/api/settings" enctype="text/plain">
  <input name='{"auto_analyze":true,"x":"' value='"}'></form>
<script>
window.attack = async () => {
  const out = {};
  try {
    await fetch('${target}/api/settings', { method: 'PUT', mode: 'no-cors', credentials: 'include',
      headers: { 'Content-Type': 'text/plain' }, body: '{"auto_analyze":true}' });
    out.put = 'sent';
  } catch (e) { out.put = String(e); }
  const form = new FormData();
  form.append('files', new Blob(['IMGnot-really'], { type: 'image/jpeg' }), 'evil.jpg');
  try {
    await fetch('${target}/api/photos', { method: 'POST', mode: 'no-cors', credentials: 'include', body: form });
    out.upload = 'sent';
  } catch (e) { out.upload = String(e); }
  try {
    await fetch('${target}/api/auth/logout', { method: 'POST', mode: 'no-cors', credentials: 'include' });
  } catch (e) { /* ignore */ }
  return out;
};
</script></body></html>`;
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(page);
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  if (evil) evil.close();
  await albums.stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('first run: 创建管理员账号 only while there are no users; the cookie is HttpOnly and SameSite=Strict', async () => {
  const base = await startAlbum('first');
  const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 } });  // a phone
  const page = await ctx.newPage();
  await page.goto(base + '/');
  await page.waitForSelector('#auth-form');
  assert.match(await page.textContent('#auth-submit'), /创建管理员账号/);
  assert.equal(await page.isVisible('#grid'), false, 'the album stays hidden');
  await page.screenshot({ path: path.join(SHOTS, 'auth-setup-phone.png') });
  await page.fill('#auth-user', '妈妈');
  await page.fill('#auth-pass', 'family-password');
  await page.fill('#auth-pass2', 'family-passwor');
  await page.click('#auth-submit');
  await page.waitForSelector('.auth-error:has-text("两次输入的密码不一致")');
  await page.fill('#auth-pass2', 'family-password');
  await page.click('#auth-submit');
  await page.waitForSelector('#account-btn');
  assert.equal(await page.textContent('#account-btn'), '妈妈');
  const cookies = await ctx.cookies(base);
  const sid = cookies.find((c) => c.name === 'sa_session');
  assert.ok(sid, 'session cookie set');
  assert.equal(sid.httpOnly, true);
  assert.equal(sid.sameSite, 'Strict');
  assert.equal(sid.path, '/');
  assert.equal(sid.secure, false, 'plain HTTP on loopback');
  assert.equal(await page.evaluate(() => document.cookie.includes('sa_session')), false, 'not readable by scripts');
  // The setup is gone now: a second page sees the login form, and the API refuses.
  const other = await browser.newContext();
  const p2 = await other.newPage();
  await p2.goto(base + '/');
  await p2.waitForSelector('#auth-form');
  assert.match(await p2.textContent('#auth-submit'), /登录/);
  const r = await fetch(base + '/api/auth/setup', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'evil', password: 'evil-password' }) });
  assert.equal(r.status, 403);
  await other.close();
  await ctx.close();
});

test('login page: wrong password in Chinese, then signed in; admin adds a user; sign out', async () => {
  addUser('login', 'alice', 'alice-password', true);
  const base = await startAlbum('login');
  const ctx = await browser.newContext({ locale: 'zh-CN' });
  const page = await ctx.newPage();
  await page.goto(base + '/');
  await page.waitForSelector('#auth-form');
  await page.fill('#auth-user', 'alice');
  await page.fill('#auth-pass', 'wrong-password');
  await page.click('#auth-submit');
  await page.waitForSelector('.auth-error:has-text("用户名或密码错误")');
  await page.fill('#auth-pass', 'alice-password');
  await page.click('#auth-submit');
  await page.waitForSelector('#account-btn');
  await page.waitForSelector('#grid', { state: 'attached' });
  // 设置 → 用户: add bob, who can then sign in.
  await page.click('#settings-btn');
  await page.waitForSelector('#users-section li');
  await page.fill('#new-user-name', 'bob');
  await page.fill('#new-user-pass', 'bob-password');
  await page.click('#add-user button[type=submit]');
  await page.waitForSelector('#user-list li:has-text("bob")');
  await page.screenshot({ path: path.join(SHOTS, 'auth-users.png') });
  await login(base, 'bob', 'bob-password');
  await page.keyboard.press('Escape');
  // 账号 → 退出登录 brings the login form back and ends the session.
  await page.click('#account-btn');
  await page.click('#sign-out');
  await page.waitForSelector('#auth-form');
  const me = await page.evaluate(async () => (await fetch('/api/auth/me')).status);
  assert.equal(me, 401);
  await ctx.close();
});

test('a page on a second origin cannot change settings, upload or sign out', async () => {
  addUser('csrf', 'alice', 'alice-password', true);
  const base = await startAlbum('csrf');
  evil = await startEvilSite(base);
  const evilBase = `http://127.0.0.1:${evil.address().port}`;
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  // Signed in to the album in this browser.
  await page.goto(base + '/');
  await page.fill('#auth-user', 'alice');
  await page.fill('#auth-pass', 'alice-password');
  await page.click('#auth-submit');
  await page.waitForSelector('#account-btn');
  const statuses = [];
  page.on('response', (r) => { if (r.url().startsWith(base + '/api/')) statuses.push([r.request().method(), r.status()]); });
  await page.goto(evilBase + '/');
  await page.evaluate(() => window.attack());
  await Promise.all([page.waitForNavigation(), page.evaluate(() => document.getElementById('f').submit())]);
  const cookie = await login(base, 'alice', 'alice-password');
  const headers = { Cookie: cookie };
  const settings = await (await fetch(base + '/api/settings', { headers })).json();
  assert.equal(settings.auto_analyze, false, 'settings unchanged');
  const photos = await (await fetch(base + '/api/photos', { headers })).json();
  assert.equal(photos.total, 0, 'nothing uploaded');
  // The browser's own session survived the cross-site logout.
  await page.goto(base + '/');
  await page.waitForSelector('#account-btn');
  assert.ok(statuses.length >= 1, 'the forged requests reached the album');
  for (const [m, s] of statuses) if (m !== 'GET') assert.equal(s, 403, `${m} answered ${s}`);
  await ctx.close();
});

test('headers: CSP forbids framing, nosniff on the page and on API errors', async () => {
  addUser('headers', 'alice', 'alice-password', true);
  const base = await startAlbum('headers');
  const r = await fetch(base + '/');
  assert.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('referrer-policy'), 'same-origin');
  const api = await fetch(base + '/api/photos');
  assert.equal(api.status, 401);
  assert.equal(api.headers.get('x-content-type-options'), 'nosniff');
});
