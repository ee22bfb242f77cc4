// Browser test of organising: the real `smart-album serve` (tiny model) driven
// through Debian's chromium. Multi-select (checkbox, shift-click range, a whole
// day), batch trash and restore through 回收站, album create / add / open, the
// favourite heart and filter, the duplicate review, and the ZIP download
// (entries byte-identical to the originals). Screenshots, desktop and phone,
// go to <build>/e2e-artifacts/organise-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Albums, CHROMIUM, getJson, waitJobsIdle } from './harness.mjs';

const BIN = process.env.SA_BINARY;
const DATA = process.env.SA_TEST_DATA;
const SRC = process.env.SA_SOURCE_DIR;
assert.ok(BIN && DATA && SRC, 'SA_BINARY, SA_TEST_DATA and SA_SOURCE_DIR must be set (ctest sets them)');
const MODEL = path.join(DATA, 'clip/tiny-b16/hf-safetensors');
const SHOTS = process.env.SA_ARTIFACTS || path.join(path.dirname(BIN), 'e2e-artifacts');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-e2e-org-'));
const albums = new Albums(BIN, SRC, tmp);
let browser;

// --auth off (harness.mjs): these tests cover organising; auth.test.mjs covers sign-in.
const startAlbum = async (name) => (await albums.start(name, ['--model', MODEL])).base;

// Uploads test images (in this order: the last is the newest, first in the grid).
async function upload(base, files) {
  const form = new FormData();
  for (const [src, name] of files) form.append('files', new Blob([fs.readFileSync(path.join(DATA, 'images', src))]), name);
  const r = await fetch(base + '/api/photos', { method: 'POST', body: form });
  const j = await r.json();
  assert.equal(j.uploaded.length, files.length, JSON.stringify(j));
  await waitJobsIdle(base);
  return Object.fromEntries(j.uploaded.map((u) => [u.filename, u.id]));
}
const cardIds = (page, sel = '#grid') => page.$$eval(`${sel} .card`, (cs) => cs.map((c) => +c.dataset.id));

// Entries of a ZIP whose entries are stored (what the server writes): name -> bytes.
function unzipStored(buf) {
  const out = {};
  let at = 0;
  while (buf.readUInt32LE(at) === 0x04034b50) {
    const method = buf.readUInt16LE(at + 8);
    const size = buf.readUInt32LE(at + 18);
    const nameLen = buf.readUInt16LE(at + 26), extraLen = buf.readUInt16LE(at + 28);
    assert.equal(method, 0, 'stored');
    const name = buf.subarray(at + 30, at + 30 + nameLen).toString('utf8');
    const start = at + 30 + nameLen + extraLen;
    out[name] = buf.subarray(start, start + size);
    at = start + size;
  }
  assert.equal(buf.readUInt32LE(at), 0x02014b50, 'central directory follows the entries');
  return out;
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    ...CHROMIUM,
    viewport: { width: 1280, height: 860 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    acceptDownloads: true,
  });
});

after(async () => {
  if (browser) await browser.close();
  await albums.stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('select, trash, restore, album, favourite, duplicates, ZIP', { timeout: 120000 }, async () => {
  const base = await startAlbum('album');
  const ids = await upload(base, [['camera.png', '相机.png'], ['coffee.png', 'coffee.png'],
    ['pokemon.jpeg', 'pokemon.jpeg'], ['chelsea_small.png', 'cat_small.png'], ['chelsea.png', 'cat.png']]);
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => d.accept());
  await page.goto(base + '/');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card .sel').length === 5);
  const order = await cardIds(page);  // newest first

  // Checkbox on the first card, shift-click on the third: a range of three.
  await page.hover('#grid .card >> nth=0');
  await page.click('#grid .card >> nth=0 >> .sel');
  assert.equal(await page.isVisible('#select-bar'), true);
  assert.equal(await page.textContent('#select-count'), '已选 1 张');
  await page.click('#grid .card >> nth=2', { modifiers: ['Shift'] });
  assert.equal(await page.textContent('#select-count'), '已选 3 张');
  assert.equal(await page.isHidden('#detail'), true, 'selecting does not open the viewer');
  // A plain click on a card while selecting toggles it.
  await page.click('#grid .card >> nth=1');
  assert.equal(await page.textContent('#select-count'), '已选 2 张');
  // 选择当天: every photo was added today, so the whole grid.
  await page.click('#select-actions button[data-action="选择当天"]');
  assert.equal(await page.textContent('#select-count'), '已选 5 张');
  await page.click('#select-cancel');
  assert.equal(await page.isHidden('#select-bar'), true);
  await page.screenshot({ path: path.join(SHOTS, 'organise-gallery.png') });

  // ZIP of two photos: the browser downloads one archive with the originals.
  await page.click('#grid .card >> nth=0 >> .sel');
  await page.click('#grid .card >> nth=1 >> .sel');
  await page.screenshot({ path: path.join(SHOTS, 'organise-selected.png') });
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#select-actions button[data-action="下载 ZIP"]'),
  ]);
  const zipPath = path.join(tmp, 'dl.zip');
  await download.saveAs(zipPath);
  const entries = unzipStored(fs.readFileSync(zipPath));
  assert.deepEqual(Object.keys(entries).sort(), ['cat.png', 'cat_small.png']);
  assert.ok(entries['cat.png'].equals(fs.readFileSync(path.join(DATA, 'images/chelsea.png'))));
  assert.ok(entries['cat_small.png'].equals(fs.readFileSync(path.join(DATA, 'images/chelsea_small.png'))));

  // Batch trash of the two selected.
  await page.click('#select-actions button[data-action="删除"]');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 3);
  assert.deepEqual(await cardIds(page), order.slice(2));
  assert.equal((await getJson(base + '/api/trash')).total, 2);

  // 回收站: both there; select them and restore.
  await page.click('#org-nav [data-nav="trash"]');
  await page.waitForFunction(() => document.querySelectorAll('#trash-grid .card').length === 2);
  await page.screenshot({ path: path.join(SHOTS, 'organise-trash.png') });
  await page.click('#trash-grid .card >> nth=0');
  await page.click('#trash-grid .card >> nth=1');
  assert.equal(await page.textContent('#select-count'), '已选 2 张');
  await page.click('#select-actions button[data-action="恢复"]');
  await page.waitForSelector('#trash-grid .muted');
  assert.equal((await getJson(base + '/api/trash')).total, 0);
  await page.click('#org-nav [data-nav="all"]');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 5);

  // Album: select two, 加入相册 -> a new album, then open it from 相册.
  await page.click('#grid .card >> nth=2 >> .sel');
  await page.click('#grid .card >> nth=3 >> .sel');
  await page.click('#select-actions button[data-action="加入相册"]');
  await page.waitForSelector('#album-picker:not([hidden])');
  await page.fill('#new-album-name', '旅行 2023');
  await page.click('#new-album-form button[type="submit"]');
  await page.waitForSelector('#album-picker', { state: 'hidden' });
  await page.click('#org-nav [data-nav="albums"]');
  await page.waitForSelector('.album-card');
  assert.match(await page.textContent('.album-card'), /旅行 2023.*2 张/);
  await page.screenshot({ path: path.join(SHOTS, 'organise-albums.png') });
  await page.click('.album-card .album-cover');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 2);
  // The album's name arrives after its photos (a second request): wait for it.
  await page.waitForFunction(() => /旅行 2023/.test(document.getElementById('section-title').textContent));
  assert.deepEqual(await cardIds(page), order.slice(2, 4));

  // Favourite from the viewer; the heart shows in the grid and 收藏 lists it alone.
  await page.click('#org-nav [data-nav="all"]');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 5);
  await page.click('#grid .card >> nth=4');
  await page.waitForSelector('#detail:not([hidden])');
  await page.click('#fav-btn');
  await page.waitForFunction(() => document.getElementById('fav-btn').getAttribute('aria-pressed') === 'true');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#grid .card >> nth=4 >> .heart');
  await page.click('#org-nav [data-nav="favorites"]');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 1);
  assert.deepEqual(await cardIds(page), [order[4]]);
  assert.equal(await page.textContent('#section-title'), '收藏');

  // 重复照片: cat.png and cat_small.png (the same photo at two sizes) at the
  // default threshold; the larger is kept, the other goes to the trash.
  await page.click('#org-nav [data-nav="duplicates"]');
  await page.waitForSelector('.dup-group');
  const groups = await page.$$eval('.dup-group', (gs) => gs.map((g) =>
    [...g.querySelectorAll('.card')].map((c) => [+c.dataset.id, c.classList.contains('keep')])));
  const catGroup = groups.find((g) => g.some(([id]) => id === ids['cat.png']));
  assert.ok(catGroup, JSON.stringify(groups));
  assert.deepEqual(catGroup.find(([, keep]) => keep)[0], ids['cat.png'], 'the larger photo is kept');
  await page.screenshot({ path: path.join(SHOTS, 'organise-duplicates.png') });
  const dropped = groups.flat().filter(([, keep]) => !keep).map(([id]) => id);
  await page.click('#dup-trash');
  await page.waitForFunction(() => !document.querySelector('.dup-group .card.drop'));
  const trash = await getJson(base + '/api/trash');
  assert.deepEqual(trash.items.map((p) => p.id).sort(), dropped.sort());
  assert.ok(dropped.includes(ids['cat_small.png']));

  // Phone layout: the selection bar fits the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#org-nav [data-nav="all"]');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card .sel').length >= 3);
  await page.click('#grid .card >> nth=0 >> .sel', { force: true });
  const bar = await page.$eval('#select-bar', (b) => b.getBoundingClientRect().toJSON());
  assert.ok(bar.left >= 0 && bar.right <= 390, JSON.stringify(bar));
  await page.screenshot({ path: path.join(SHOTS, 'organise-phone.png') });
  await page.click('#org-nav [data-nav="trash"]');
  await page.waitForSelector('#trash-grid .card');
  await page.screenshot({ path: path.join(SHOTS, 'organise-phone-trash.png') });

  assert.deepEqual(errors, []);
});

// The viewer shows the text read in a photo and, for an enhanced-search hit,
// why it matched, highlighted. The search reply is faked (the tiny test setup
// has no VLM text); the photo is real.
// 上传到相册: the upload menu -> an album -> the file chooser; a new photo and a
// duplicate of one already in the library both land in the album.
test('upload into an album from the upload menu', { timeout: 60000 }, async () => {
  const base = await startAlbum('upload-album');
  const ids = await upload(base, [['camera.png', 'camera.png']]);
  const album = await (await fetch(base + '/api/albums', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: '旅行' }) })).json();
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base + '/');
  await page.waitForSelector('#grid .card');
  await page.click('#upload-btn');
  await page.click('#pick-album');
  await page.waitForSelector('#album-picker:not([hidden]) #album-upload-kind:not([hidden])');
  assert.equal(await page.textContent('#album-picker-title'), '上传到相册');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('.album-choice >> nth=0')]);
  await page.waitForSelector('#album-picker', { state: 'hidden' });
  await chooser.setFiles([path.join(DATA, 'images', 'coffee.png'), path.join(DATA, 'images', 'camera.png')]);
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 2);
  let listed = [];
  for (let i = 0; i < 100 && listed.length < 2; i++) {
    listed = (await getJson(`${base}/api/albums/${album.id}/photos`)).items.map((p) => p.id);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(listed.length, 2);
  assert.ok(listed.includes(ids['camera.png']), 'the duplicate is in the album too');
  // A plain upload afterwards does not go to the album.
  await page.click('#upload-btn');
  const [plain] = await Promise.all([page.waitForEvent('filechooser'), page.click('#pick-files')]);
  await plain.setFiles([path.join(DATA, 'images', 'pokemon.jpeg')]);
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 3);
  await waitJobsIdle(base);
  assert.equal((await getJson(`${base}/api/albums/${album.id}`)).photo_count, 2);
  assert.deepEqual(errors, []);
});

test('viewer shows the visible text and why a hit matched', { timeout: 60000 }, async () => {
  const base = await startAlbum('text');
  const ids = await upload(base, [['coffee.png', 'receipt.png']]);
  const id = ids['receipt.png'];
  const real = await getJson(`${base}/api/photos/${id}`);
  const photo = { ...real, description: '桌上的一杯咖啡和一张小票', keywords: ['咖啡', '小票'], text: '星巴克\n增值税发票 32.00' };
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('**/api/search?*', (route) => route.fulfill({ json: { query: '发票 咖啡', mode: 'hybrid', items: [
    { ...photo, score: 0.9, clip_score: 0.3, desc_score: 0.5, keyword_score: 1,
      matched: { keywords: ['咖啡'], description: ['咖啡'], text: ['发票'] } }] } }));
  await page.route(`**/api/photos/${id}`, (route) => route.fulfill({ json: photo }));
  await page.goto(base + '/');
  await page.waitForSelector('#grid .card');
  await page.fill('#search-input', '发票 咖啡');
  await page.press('#search-input', 'Enter');
  // The page shows no raw score (issue 13): wait for the search view's one result.
  await page.waitForFunction(() => /发票 咖啡/.test(document.getElementById('section-title').textContent) &&
    document.querySelectorAll('#grid .card').length === 1);
  await page.click('#grid .card >> nth=0');
  await page.waitForSelector('#detail:not([hidden])');
  await page.waitForFunction(() => document.querySelector('#detail-text mark')?.textContent === '发票');
  assert.match(await page.textContent('#detail-text'), /星巴克\s*增值税发票 32\.00/);
  assert.equal(await page.textContent('#detail-desc mark'), '咖啡');
  assert.equal(await page.textContent('#detail-why'), '匹配原因：关键词 咖啡；描述中的 咖啡；图中文字 发票');
  await page.screenshot({ path: path.join(SHOTS, 'organise-why-matched.png') });
  assert.deepEqual(errors, []);
});
