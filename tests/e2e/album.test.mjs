// Browser test: the real `smart-album serve` (tiny model, temp data dir) driven
// through Debian's chromium with playwright-core. Uploads a folder through the
// page, sees thumbnails, searches, opens a photo, analyzes it with a fake
// OpenAI-compatible VLM on 127.0.0.1, switches on enhanced search, and saves
// screenshots to <build>/e2e-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.SA_BINARY;
const DATA = process.env.SA_TEST_DATA;
const SRC = process.env.SA_SOURCE_DIR;
assert.ok(BIN && DATA && SRC, 'SA_BINARY, SA_TEST_DATA and SA_SOURCE_DIR must be set (ctest sets them)');
const MODEL = path.join(DATA, 'clip/tiny-b16/hf-safetensors');
const TEXT_MODEL = path.join(DATA, 'text/tiny-xlmr-cls');
const SHOTS = path.join(path.dirname(BIN), 'e2e-screenshots');
const DESCRIPTION = '一只橘猫趴在沙发上睡觉';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-e2e-'));
const servers = [];
let vlm, browser, vlmCalls = 0;

// A fake vision model: answers every chat completion with fenced JSON.
function startFakeVlm() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        vlmCalls++;
        const content = '```json\n' + JSON.stringify({ description: DESCRIPTION, keywords: ['橘猫', '沙发', '睡觉'] }) + '\n```';
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', model: 'fake-vl',
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
      });
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

// Starts `smart-album serve --port 0` and resolves with its base URL.
function startAlbum(name, extraArgs) {
  const dataDir = path.join(tmp, name);
  const child = spawn(BIN, ['serve', '--data-dir', dataDir, '--port', '0',
    '--web-dir', path.join(SRC, 'web'), ...extraArgs], {
    env: { PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: path.join(tmp, 'cache') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(child);
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + log)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${log}`)); });
  });
}

async function getJson(url) {
  const r = await fetch(url);
  return r.json();
}

async function waitJobsIdle(base) {
  for (let i = 0; i < 300; i++) {
    const j = await getJson(base + '/api/jobs');
    if (j.pending === 0 && j.running === 0) return j;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('jobs did not finish');
}

// A folder like a phone export: nested folders, a duplicate and a non-image.
function makePhotoFolder() {
  const root = path.join(tmp, '我的照片');
  const put = (rel, src) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.copyFileSync(path.join(DATA, 'images', src), path.join(root, rel));
  };
  put('2023春节/chelsea.png', 'chelsea.png');
  put('2023春节/pokemon.jpeg', 'pokemon.jpeg');
  put('咖啡/coffee.png', 'coffee.png');
  put('咖啡/coffee_q90.jpg', 'coffee_q90.jpg');
  put('旧相机/camera.png', 'camera.png');
  put('旧相机/copy-of-coffee.png', 'coffee.png');
  fs.writeFileSync(path.join(root, '旧相机/说明.txt'), '这不是图片');
  return root;
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  vlm = await startFakeVlm();
  browser = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
    locale: 'zh-CN',
  });
});

after(async () => {
  if (browser) await browser.close();
  // Let the servers shut down (they flush the database) before removing their data.
  await Promise.all(servers.map((s) => new Promise((resolve) => {
    if (s.exitCode !== null || s.signalCode !== null) return resolve();
    s.once('exit', resolve);
    s.kill('SIGTERM');
  })));
  if (vlm) vlm.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('upload a folder, search, open, analyze, enhanced search', { timeout: 90000 }, async () => {
  const base = await startAlbum('album', ['--model', MODEL, '--text-model', TEXT_MODEL,
    '--vlm-base-url', `http://127.0.0.1:${vlm.address().port}/v1`, '--vlm-model', 'fake-vl']);
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(base + '/');
  await page.waitForSelector('#empty:not([hidden])');
  assert.equal(await page.isHidden('#model-banner'), true, 'a model is loaded: no banner');

  // Folder upload through the page's directory input.
  await page.setInputFiles('#folder-input', makePhotoFolder());
  await page.waitForFunction(() => document.getElementById('upload-title').textContent === '上传完成');
  const summary = await page.textContent('#upload-summary');
  assert.match(summary, /已上传 5/);
  assert.match(summary, /重复 1/);
  assert.match(summary, /被拒绝 1/);
  assert.match(await page.textContent('#upload-list'), /说明\.txt/);

  // Thumbnails: five cards whose images really loaded.
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('#grid .card img')];
    return imgs.length === 5 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  });
  const list = await getJson(base + '/api/photos');
  assert.equal(list.total, 5);
  assert.ok(list.items.some((p) => p.folder === '我的照片/2023春节' && p.filename === 'chelsea.png'),
    JSON.stringify(list.items.map((p) => [p.folder, p.filename])));
  await waitJobsIdle(base);
  // The page's job poller notices too: the progress bar goes and the badges clear.
  await page.waitForSelector('#jobs', { state: 'hidden', timeout: 15000 });
  await page.waitForFunction(() => !document.querySelector('#grid .badge.state'), null, { timeout: 15000 });
  await page.click('#upload-close');
  await page.screenshot({ path: path.join(SHOTS, 'gallery.png') });

  // Search: results carry scores, in the API's order.
  const api = await getJson(base + '/api/search?mode=clip&limit=100&q=' + encodeURIComponent('一只猫'));
  await page.fill('#search-input', '一只猫');
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('#grid .card .badge.score');
  assert.match(await page.textContent('#section-title'), /一只猫/);
  const shown = await page.$$eval('#grid .card', (cs) => cs.map((c) => +c.dataset.id));
  assert.deepEqual(shown, api.items.map((i) => i.id));
  const firstScore = await page.textContent('#grid .card .badge.score');
  assert.equal(firstScore, api.items[0].score.toFixed(3));
  await page.screenshot({ path: path.join(SHOTS, 'search.png') });

  // Detail of the top hit, then analyze it with the fake VLM.
  await page.click('#grid .card >> nth=0');
  await page.waitForSelector('#detail:not([hidden])');
  assert.equal(await page.textContent('#detail-name'), api.items[0].filename);
  assert.match(await page.textContent('#detail-meta'), /相似度/);
  await page.waitForFunction(() => document.getElementById('detail-img').naturalWidth > 0);
  await page.click('#analyze-btn');
  await page.waitForFunction((d) => document.getElementById('detail-desc').textContent === d, DESCRIPTION,
    { timeout: 20000 });
  const chips = await page.$$eval('#detail-keywords .chip', (cs) => cs.map((c) => c.textContent));
  assert.deepEqual(chips, ['橘猫', '沙发', '睡觉']);
  await page.waitForFunction(() => document.getElementById('analyze-state').textContent === '已完成');
  assert.ok(vlmCalls >= 1);
  await page.screenshot({ path: path.join(SHOTS, 'detail.png') });

  // Similar photos from the detail view.
  await page.click('#similar-btn');
  await page.waitForSelector('#detail', { state: 'hidden' });
  await page.waitForFunction(() => /相似/.test(document.getElementById('section-title').textContent));
  await page.waitForSelector('#grid .card');
  const simIds = await page.$$eval('#grid .card', (cs) => cs.map((c) => +c.dataset.id));
  assert.ok(!simIds.includes(api.items[0].id), 'a photo is not similar to itself');

  // Settings: enhanced search on (persisted), then searches go out as mode=hybrid
  // and the described photo wins for words of its description.
  await page.click('#settings-btn');
  await page.waitForSelector('#settings:not([hidden])');
  assert.match(await page.textContent('#system-info'), /已配置/);
  assert.match(await page.textContent('#system-info'), /tiny-xlmr-cls/);
  await page.click('label:has(#set-enhanced)');
  await page.waitForFunction(() => document.getElementById('settings-status').textContent === '已保存');
  assert.equal((await getJson(base + '/api/settings')).enhanced_search, true);
  assert.equal(await page.isChecked('#set-enhanced'), true);
  await page.screenshot({ path: path.join(SHOTS, 'settings.png') });
  await page.click('#settings .settings-card [data-close]');
  assert.equal(await page.isVisible('#mode-chip'), true);
  const hybrid = page.waitForResponse((r) => r.url().includes('/api/search') && r.url().includes('mode=hybrid'));
  await page.fill('#search-input', '橘猫 沙发');
  await page.press('#search-input', 'Enter');
  const hres = await (await hybrid).json();
  assert.equal(hres.mode, 'hybrid');
  await page.waitForSelector('#grid .card .badge.score');
  assert.equal(+(await page.getAttribute('#grid .card >> nth=0', 'data-id')), api.items[0].id);

  // Reload: the setting came back from the server.
  await page.reload();
  await page.waitForSelector('#grid .card');
  await page.click('#settings-btn');
  assert.equal(await page.isChecked('#set-enhanced'), true);
  await page.click('#settings .settings-card [data-close]');

  // Phone-sized screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  await page.screenshot({ path: path.join(SHOTS, 'phone.png') });
  assert.deepEqual(pageErrors, []);
  await page.close();
});

test('without a model the page says search needs one', { timeout: 30000 }, async () => {
  const base = await startAlbum('nomodel', []);
  const page = await browser.newPage();
  await page.goto(base + '/');
  await page.waitForSelector('#model-banner:not([hidden])');
  assert.match(await page.textContent('#model-banner'), /搜索需要模型/);
  await page.fill('#search-input', '海边的日落');
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('.toast.error');
  assert.match(await page.textContent('.toast.error'), /搜索需要模型/);
  await page.screenshot({ path: path.join(SHOTS, 'no-model.png') });
  await page.close();
});
