// Browser test of album sharing (web/js/share.js): the real `smart-album serve`
// with two accounts. alice opens 相册, shares her album with bob through the
// 共享 dialog (可添加照片), sees him listed; bob's page then shows the album as
// shared by alice with 退出共享 instead of 重命名 / 删除相册, and leaving it
// takes it off his list.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.SA_BINARY;
const DATA = process.env.SA_TEST_DATA;
const SRC = process.env.SA_SOURCE_DIR;
assert.ok(BIN && DATA && SRC, 'SA_BINARY, SA_TEST_DATA and SA_SOURCE_DIR must be set (ctest sets them)');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-e2e-share-'));
const env = { PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: path.join(tmp, 'cache') };
const dataDir = path.join(tmp, 'album');
let server, browser, base;

function addUser(user, password, admin) {
  const r = spawnSync(BIN, ['user', 'add', user, '--password-stdin', '--data-dir', dataDir,
    ...(admin ? ['--admin'] : [])], { env, input: password + '\n', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

async function login(username, password) {
  const r = await fetch(base + '/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }) });
  assert.equal(r.status, 200);
  return r.headers.get('set-cookie').split(';')[0].split('=')[1];
}

async function api(session, method, url, body) {
  const init = { method, headers: { Cookie: 'sa_session=' + session } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
  const r = await fetch(base + url, init);
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function pageAs(session) {
  const ctx = await browser.newContext();
  await ctx.addCookies([{ name: 'sa_session', value: session, url: base }]);
  const page = await ctx.newPage();
  page.on('dialog', (d) => d.accept());
  await page.goto(base + '/');
  await page.click('#org-nav [data-nav="albums"]');
  await page.waitForSelector('.album-grid');
  return page;
}

before(async () => {
  addUser('alice', 'alice-password', true);
  addUser('bob', 'bob-password', false);
  server = spawn(BIN, ['serve', '--data-dir', dataDir, '--port', '0', '--web-dir', path.join(SRC, 'web')],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => { log += d; });
  base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + log)), 20000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the owner shares an album through the dialog; the recipient sees it and can leave', async () => {
  const alice = await login('alice', 'alice-password');
  const bob = await login('bob', 'bob-password');
  const form = new FormData();
  form.append('files', new Blob([fs.readFileSync(path.join(DATA, 'images', 'chelsea.png'))]), 'trip/chelsea.png');
  const up = await api(alice, 'POST', '/api/photos', form);
  assert.equal(up.status, 200, JSON.stringify(up.body));
  const photo = up.body.uploaded[0].id;
  const album = await api(alice, 'POST', '/api/albums', { name: '全家福' });
  assert.equal(album.status, 201);
  assert.equal((await api(alice, 'POST', `/api/albums/${album.body.id}/photos`, { ids: [photo] })).status, 200);
  assert.deepEqual((await api(bob, 'GET', '/api/albums')).body.items, []);

  const pa = await pageAs(alice);
  await pa.waitForSelector('.album-card .album-share');
  await pa.click('.album-card .album-share');
  await pa.waitForSelector('#share-dialog:not([hidden])');
  await pa.fill('#share-user', 'nobody');
  await pa.click('#share-form button[type=submit]');
  await pa.waitForSelector('.toast.error');
  assert.match(await pa.textContent('.toast.error'), /nobody/);
  await pa.fill('#share-user', 'bob');
  await pa.selectOption('#share-role', 'contributor');
  await pa.click('#share-form button[type=submit]');
  await pa.waitForSelector('.share-item[data-user="bob"]');
  assert.match(await pa.textContent('.share-item[data-user="bob"]'), /可添加照片/);

  const shared = await api(bob, 'GET', '/api/albums');
  assert.equal(shared.body.items.length, 1);
  assert.equal(shared.body.items[0].role, 'contributor');
  assert.equal(shared.body.items[0].owner, 'alice');
  // The photo is his to see in the album only.
  assert.equal((await api(bob, 'GET', `/api/albums/${album.body.id}/photos`)).body.total, 1);
  assert.equal((await api(bob, 'GET', '/api/photos')).body.total, 0);

  const pb = await pageAs(bob);
  await pb.waitForSelector('.album-card');
  const card = await pb.textContent('.album-card');
  assert.match(card, /全家福/);
  assert.match(card, /alice 共享/);
  assert.equal(await pb.locator('.album-card .album-tools button').count(), 1, 'only 退出共享 for a recipient');
  assert.equal(await pb.textContent('.album-card .album-share'), '退出共享');
  await pb.click('.album-card .album-share');
  await pb.waitForSelector('.album-card', { state: 'detached' });
  assert.deepEqual((await api(bob, 'GET', '/api/albums')).body.items, []);
});
