// Browser test: the real `smart-album serve` (tiny model, temp data dir) driven
// through Debian's chromium with playwright-core. Uploads a folder through the
// page, sees thumbnails, searches, opens a photo, analyzes it with a fake
// OpenAI-compatible VLM on 127.0.0.1, switches on enhanced search, and saves
// screenshots to <build>/e2e-screenshots/. Later tests hold back, fail or fake
// API replies with page.route to check the page against races and errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Albums, CHROMIUM, getJson, waitJobsIdle } from './harness.mjs';
import { gate } from './browse_util.mjs';

const BIN = process.env.SA_BINARY;
const DATA = process.env.SA_TEST_DATA;
const SRC = process.env.SA_SOURCE_DIR;
assert.ok(BIN && DATA && SRC, 'SA_BINARY, SA_TEST_DATA and SA_SOURCE_DIR must be set (ctest sets them)');
const MODEL = path.join(DATA, 'clip/tiny-b16/hf-safetensors');
const TEXT_MODEL = path.join(DATA, 'text/tiny-xlmr-cls');
const SHOTS = path.join(path.dirname(BIN), 'e2e-screenshots');
const DESCRIPTION = '一只橘猫趴在沙发上睡觉';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-e2e-'));
const albums = new Albums(BIN, SRC, tmp);
let vlm, badVlm, browser, vlmCalls = 0;
const BAD_VLM_ERROR = 'The model `bad-vl` does not exist';

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

// A vision model endpoint that refuses every request (HTTP 400, not retried).
function startBadVlm() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { message: BAD_VLM_ERROR, type: 'invalid_request_error' } }));
      });
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

// Starts `smart-album serve --port 0 --auth off` and resolves with its base URL.
const startAlbum = async (name, extraArgs) => (await albums.start(name, extraArgs)).base;

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
  badVlm = await startBadVlm();
  browser = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    ...CHROMIUM,
    viewport: { width: 1280, height: 860 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',  // UTC+8 all year: server times must not show as UTC
  });
});

after(async () => {
  if (browser) await browser.close();
  await albums.stopAll();  // they flush the database before the data goes
  if (vlm) vlm.close();
  if (badVlm) badVlm.close();
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

  // Search: the random test model matches nothing under the default cut-off
  // (docs/search.md); anchors that spread its cosines and no cut-off list every
  // photo, in the API's order, without raw numbers on the tiles.
  await fetch(base + '/api/settings', { method: 'PUT', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ min_score: 0, score_floor: -0.4, score_ceiling: 0 }) });
  const api = await getJson(base + '/api/search?mode=clip&limit=60&q=' + encodeURIComponent('一只猫'));
  assert.equal(api.items.length, 5);
  await page.fill('#search-input', '一只猫');
  await page.press('#search-input', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 5);
  assert.match(await page.textContent('#section-title'), /一只猫/);
  const shown = await page.$$eval('#grid .card', (cs) => cs.map((c) => +c.dataset.id));
  assert.deepEqual(shown, api.items.map((i) => i.id));
  assert.equal(await page.$$eval('#grid .card .badge.score', (b) => b.length), 0);
  await page.screenshot({ path: path.join(SHOTS, 'search.png') });

  // Detail of the top hit, then analyze it with the fake VLM.
  await page.click('#grid .card >> nth=0');
  await page.waitForSelector('#detail:not([hidden])');
  assert.equal(await page.textContent('#detail-name'), api.items[0].filename);
  assert.match(await page.textContent('#detail-meta'), /相关度/);
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
  // 精度 (precision.js): saved through /api/settings for the next start.
  await page.waitForFunction(() => /当前运行：fp32/.test(document.getElementById('precision-note').textContent));
  assert.equal(await page.inputValue('#set-precision'), 'fp32');
  await page.selectOption('#set-precision', 'int8');
  await page.waitForFunction(() => document.getElementById('settings-status').textContent === '已保存，重启后生效');
  assert.equal((await getJson(base + '/api/settings')).precision, 'int8');
  await page.waitForFunction(() => /重启相册服务后改用 int8/.test(document.getElementById('precision-note').textContent));
  await page.screenshot({ path: path.join(SHOTS, 'settings.png') });
  await page.click('#settings .settings-card [data-close]');
  assert.equal(await page.isVisible('#mode-chip'), true);
  const hybrid = page.waitForResponse((r) => r.url().includes('/api/search') && r.url().includes('mode=hybrid'));
  await page.fill('#search-input', '橘猫 沙发');
  await page.press('#search-input', 'Enter');
  const hres = await (await hybrid).json();
  assert.equal(hres.mode, 'hybrid');
  await page.waitForSelector('#grid .card');
  assert.equal(+(await page.getAttribute('#grid .card >> nth=0', 'data-id')), api.items[0].id);

  // Reload: the setting came back from the server.
  await page.reload();
  await page.waitForSelector('#grid .card');
  await page.click('#settings-btn');
  assert.equal(await page.isChecked('#set-enhanced'), true);
  await page.waitForFunction(() => document.getElementById('set-precision').value === 'int8');
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

// ---------- races, errors and odd input ----------

// One album without a model whose vision model refuses everything; the tests
// below share it (most of them fake the API replies they need anyway).
let plainBase = null;
async function plainAlbum() {
  if (!plainBase) {
    plainBase = await startAlbum('plain', ['--vlm-base-url', `http://127.0.0.1:${badVlm.address().port}/v1`,
      '--vlm-model', 'bad-vl']);
  }
  return plainBase;
}

const BLANK = 'data:image/svg+xml,%3Csvg xmlns="http://www.w3.org/2000/svg"/%3E';
const fakePhoto = (id) => ({ id, filename: `p${id}.jpg`, folder: '', status: 'ready', vlm_status: 'none',
  vlm_error: '', added_at: '2024-05-01T16:05:00Z', taken_at: '2024-05-01T16:05:00', taken_at_source: 'exif',
  thumbnail_url: BLANK, original_url: BLANK, preview_url: BLANK });
const fakeList = (ids, total = ids.length) => ({ total, page: 1, per_page: 60, items: ids.map(fakePhoto) });
const cardIds = (page) => page.$$eval('#grid .card', (cs) => cs.map((c) => +c.dataset.id));

test('a reply for an old view never lands in the new one', { timeout: 30000 }, async () => {
  const base = await plainAlbum();
  const firstList = gate();
  let holdList = firstList, holdSearch = null, listCalls = 0, coffeeCalls = 0;
  // Two searches typed back to back can share one hashchange (the page then runs only the
  // last, which is right); each step below waits until its request has reached the server.
  const until = async (cond) => { while (!cond()) await new Promise((r) => setTimeout(r, 20)); };
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('**/api/photos?*', async (route) => {
    listCalls++;
    const g = holdList;
    holdList = null;
    if (g) await g.p;
    await route.fulfill({ json: fakeList([103, 102, 101]) });
  });
  const HITS = { 猫: [1, 2], 咖啡: [11, 12], 相机: [21] };
  await page.route('**/api/search?*', async (route) => {
    const q = new URL(route.request().url()).searchParams.get('q');
    const g = q === '咖啡' ? holdSearch : null;
    if (q === '咖啡') coffeeCalls++;
    if (g) await g.p;
    await route.fulfill({ json: { query: q, items: HITS[q].map((id) => ({ ...fakePhoto(id), score: 0.5 })) } });
  });
  const search = async (q) => { await page.fill('#search-input', q); await page.press('#search-input', 'Enter'); };
  const settle = () => page.waitForTimeout(300);
  await page.goto(base + '/');

  // A: the gallery's first page is late; a search made meanwhile keeps its grid.
  await until(() => listCalls === 1);
  await search('猫');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 2);
  const late = page.waitForResponse((r) => r.url().includes('/api/photos?'));
  firstList.open();
  await late;
  await settle();
  assert.deepEqual(await cardIds(page), [1, 2]);
  assert.equal(await page.textContent('#section-count'), '2 张');

  // B: search 咖啡 is slow, 相机 answers first; the late 咖啡 reply is dropped.
  holdSearch = gate();
  const coffee = holdSearch;
  await search('咖啡');
  await until(() => coffeeCalls === 1);
  await search('相机');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 1);
  const lateSearch = page.waitForResponse((r) => r.url().includes(encodeURIComponent('咖啡')));
  coffee.open();
  await lateSearch;
  await settle();
  assert.deepEqual(await cardIds(page), [21]);
  assert.match(await page.textContent('#section-title'), /相机/);
  assert.equal(await page.isHidden('#spinner'), true);

  // C: a gallery load still in flight does not keep the next gallery from loading.
  holdList = gate();
  const stuck = holdList;
  const before = listCalls;
  await page.click('#back-btn');
  await until(() => listCalls === before + 1);
  await search('猫');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 2);
  const calls = listCalls;
  await page.click('#back-btn');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 3, null, { timeout: 5000 });
  assert.equal(listCalls, calls + 1);
  stuck.open();
  await settle();
  assert.deepEqual(await cardIds(page), [103, 102, 101]);
  assert.equal(await page.isHidden('#spinner'), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('infinite scroll neither skips nor repeats photos after a delete or an upload', { timeout: 60000 }, async () => {
  const base = await plainAlbum();
  // A fake album of 130 photos that pages the way the server does (page or before).
  let ids = Array.from({ length: 130 }, (_, i) => 130 - i);
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => d.accept());
  // The timeline pages by a cursor (taken_at|id of the last photo shown); all
  // fake photos share one taken_at, so the server's order is by id.
  await page.route('**/api/photos?*', (route) => {
    const u = new URL(route.request().url()).searchParams;
    const per = +(u.get('limit') || u.get('per_page') || 50);
    const before = +((u.get('cursor') || '').split('|')[1] || 0);
    const rest = ids.filter((id) => !before || id < before);
    const items = rest.slice(0, per);
    return route.fulfill({ json: { total: ids.length, page: 1, per_page: per, items: items.map(fakePhoto),
      next_cursor: rest.length > per ? `2024-05-01T16:05:00|${items[items.length - 1]}` : null } });
  });
  await page.route(/\/api\/photos\/\d+$/, (route) => {
    const id = +route.request().url().match(/(\d+)$/)[1];
    if (route.request().method() !== 'DELETE') return route.fulfill({ json: fakePhoto(id) });
    ids = ids.filter((x) => x !== id);
    return route.fulfill({ json: { deleted: id } });
  });
  const scrollUntil = async (n) => {
    // Up to ~20 s: on a loaded CI machine the pages arrive slowly; stops as soon as n show.
    for (let i = 0; i < 130 && (await page.$$('#grid .card')).length < n; i++) {
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await page.waitForTimeout(150);
    }
    await page.waitForTimeout(300);
  };
  await page.goto(base + '/');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 60);

  await page.click('#grid .card >> nth=0');
  await page.waitForSelector('#detail:not([hidden])');
  await page.click('#delete-btn');
  await page.waitForSelector('#detail', { state: 'hidden' });
  await scrollUntil(119);
  // At least two pages, maybe the third too (a slow machine may load it while
  // the test looks): whatever shows is the list's head, nothing skipped or repeated.
  const afterDelete = await cardIds(page);
  assert.ok(afterDelete.length >= 119, String(afterDelete.length));
  assert.deepEqual(afterDelete, ids.slice(0, afterDelete.length), 'after deleting #130: no photo skipped');

  ids.unshift(132, 131);  // uploaded from elsewhere while the user scrolls
  await scrollUntil(129);
  const shown = await cardIds(page);
  assert.deepEqual(shown, Array.from({ length: 129 }, (_, i) => 129 - i), 'no photo repeated or lost');
  // The count is the total of the last page fetched: 131 once the last page
  // came after the two uploads, 129 if it came before them.
  const total = afterDelete.length < 129 ? 131 : 129;
  assert.equal(await page.textContent('#section-count'), `${total} 张`);

  // An upload finished while scrolled down: the new photo goes on top (its
  // place by date taken), the reader keeps their place (the gallery used to
  // reload from the top). The two uploaded elsewhere come with the next load.
  await page.route('**/api/photos', (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    ids.unshift(133);
    return route.fulfill({ json: { uploaded: [{ index: 0, id: 133, filename: 'new.png', duplicate: false }], rejected: [] } });
  });
  const scrolled = await page.evaluate(() => window.scrollY);
  assert.ok(scrolled > 500, 'scrolled down before the upload');
  await page.setInputFiles('#files-input', { name: 'new.png', mimeType: 'image/png', buffer: Buffer.from('png') });
  await page.waitForFunction(() => document.querySelector('#grid .card')?.dataset.id === '133', null, { timeout: 15000 });
  assert.equal(await page.textContent('#section-count'), `${total + 1} 张`);
  assert.ok(await page.evaluate(() => window.scrollY) >= scrolled, 'scroll position kept');
  const after = await cardIds(page);
  assert.deepEqual(after, [133, ...Array.from({ length: 129 }, (_, i) => 129 - i)]);
  assert.deepEqual(await page.$$eval('#grid .card', (cs) => cs.map((c) => +c.dataset.index)),
                   after.map((_, i) => i));
  await page.click('#upload-close');

  // The detail view's › follows the list as more photos load behind it.
  ids = Array.from({ length: 130 }, (_, i) => 130 - i);
  await page.click('#brand');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 60);
  await page.click('#grid .card >> nth=59');
  await page.waitForSelector('#detail:not([hidden])');
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length > 60, null, { timeout: 15000 });
  assert.equal(await page.isHidden('#detail-next'), false, '› shown once more photos are loaded');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a photo list that fails to load says so and can be retried', { timeout: 30000 }, async () => {
  const base = await plainAlbum();
  let fail = true;
  const page = await browser.newPage();
  await page.route('**/api/photos?*', (route) => (fail
    ? route.fulfill({ status: 500, json: { error: { code: 'internal', message: '数据库暂时不可用' } } })
    : route.fulfill({ json: fakeList([7, 6]) })));
  await page.goto(base + '/');
  await page.waitForSelector('#load-error:not([hidden])', { timeout: 5000 });
  // The Chinese text for the code, not the server's message.
  assert.match(await page.textContent('#load-error'), /相册服务内部出错/);
  assert.doesNotMatch(await page.textContent('#load-error'), /数据库暂时不可用/);
  assert.equal(await page.isHidden('#empty'), true, 'not the empty-album screen');
  await page.screenshot({ path: path.join(SHOTS, 'load-error.png') });
  fail = false;
  await page.click('#retry-btn');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 2);
  assert.equal(await page.isHidden('#load-error'), true);
  await page.close();
});

test('odd file names, a failed analysis, local times, similar without a model', { timeout: 60000 }, async () => {
  const base = await plainAlbum();
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base + '/');
  const img = (name) => fs.readFileSync(path.join(DATA, 'images', name));

  // The browser sends '"' as %22; a name that really holds "%22" comes back
  // decoded, so the page must match results by index, not by name.
  await page.setInputFiles('#files-input', [
    { name: 'say "cheese".png', mimeType: 'image/png', buffer: img('chelsea.png') },
    { name: '100%22.png', mimeType: 'image/png', buffer: img('coffee.png') },
  ]);
  await page.waitForFunction(() => /^2 \/ 2/.test(document.getElementById('upload-summary').textContent),
    null, { timeout: 15000 });
  assert.match(await page.textContent('#upload-summary'), /已上传 2/);
  assert.doesNotMatch(await page.textContent('#upload-list'), /上传中/);
  await page.waitForFunction(() => document.getElementById('upload-title').textContent === '上传完成');

  // All duplicates plus one rejected file: something did arrive, so no red toast.
  await page.setInputFiles('#files-input', [
    { name: 'again.png', mimeType: 'image/png', buffer: img('chelsea.png') },
    { name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('这不是图片') },
  ]);
  const doneToast = page.locator('.toast', { hasText: '重复 1 张，被拒绝 1 个' });
  await doneToast.waitFor();
  assert.equal(await doneToast.getAttribute('class'), 'toast');
  await page.click('#upload-close');

  // Times: added_at (UTC, "Z") in local time, EXIF taken_at (no zone) as written.
  const list = await getJson(base + '/api/photos');
  const cheese = list.items.find((p) => p.filename === 'say "cheese".png');
  assert.ok(cheese, JSON.stringify(list.items.map((p) => p.filename)));
  assert.match(cheese.added_at, /Z$/);
  const local = new Date(Date.parse(cheese.added_at) + 8 * 3600e3);  // Asia/Shanghai
  const pad = (n) => String(n).padStart(2, '0');
  const added = `${local.getUTCFullYear()}年${local.getUTCMonth() + 1}月${local.getUTCDate()}日 ` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}`;
  await page.route(new RegExp(`/api/photos/${cheese.id}$`), async (route) => {
    const res = await route.fetch();
    await route.fulfill({ response: res, json: { ...(await res.json()), taken_at: '2023-01-22T10:30:00', taken_at_source: 'exif' } });
  });
  await page.click(`#grid .card[data-id="${cheese.id}"]`);
  await page.waitForFunction(() => /2023年1月22日 10:30/.test(document.getElementById('detail-meta').textContent));
  const meta = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#detail-meta dt')].map((d) => [d.textContent, d.nextElementSibling.textContent])));  // one task: a re-render between finding and reading the rows cannot split them
  assert.equal(meta['拍摄时间'], '2023年1月22日 10:30');
  assert.equal(meta['添加时间'], added);

  // The vision model refuses: the page says why.
  await page.click('#analyze-btn');
  await page.waitForFunction(() => document.getElementById('analyze-state').textContent === '分析失败',
    null, { timeout: 20000 });
  const failed = await getJson(`${base}/api/photos/${cheese.id}`);
  assert.equal(failed.vlm_status, 'failed');
  assert.ok(failed.vlm_error, 'the server keeps why (for the log)');
  // HTTP 400 from the provider: a stable code, and only its Chinese in the page.
  assert.equal(failed.vlm_error_code, 'vlm_rejected');
  assert.equal(await page.getAttribute('#analyze-state', 'title'), '视觉大模型拒绝了这张图片的请求');
  const metaText = await page.textContent('#detail-meta');
  assert.match(metaText, /分析失败原因视觉大模型拒绝了这张图片的请求/);
  assert.ok(!metaText.includes(failed.vlm_error) && !/bad-vl|HTTP|VLM/.test(metaText), metaText);
  await page.screenshot({ path: path.join(SHOTS, 'analyze-failed.png') });

  // Similar photos need the model as much as search does.
  await page.click('#similar-btn');
  await page.waitForSelector('#empty:not([hidden])');
  assert.match(await page.textContent('#section-title'), /相似/);
  assert.match(await page.textContent('#empty-text'), /需要模型/);
  const toastText = await page.textContent('.toast.error');
  assert.match(toastText, /需要模型/);
  assert.doesNotMatch(toastText, /no CLIP model/);
  assert.deepEqual(errors, []);
  await page.close();
});
