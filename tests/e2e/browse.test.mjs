// Browser tests of issue 13 (timeline, honest search, viewer, URLs, live
// uploads), in Debian's chromium at desktop (1440x900) and phone (390x844,
// touch) sizes, against the real `smart-album serve`. Screenshots and the
// 10,000-photo numbers go to build/e2e-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchChromium } from './harness.mjs';
import { Albums, DESKTOP, gate, getJson, jpegSize, jpegWithExifDate, PHONE, png16, shotDir, testEnv, waitJobsIdle } from './browse_util.mjs';

const { BIN, FILL, DATA, SRC, MODEL } = testEnv();
const SHOTS = shotDir();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-browse-'));
const albums = new Albums(BIN, SRC, tmp);
let browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  await albums.stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function newPage(size = DESKTOP, extra = {}) {
  const ctx = await browser.newContext({
    viewport: size, locale: 'zh-CN', timezoneId: 'Asia/Shanghai',
    ...(size === PHONE ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}), ...extra,
  });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}
const cardIds = (page) => page.$$eval('#grid .card', (cs) => cs.map((c) => +c.dataset.id));
const dayHeads = (page) => page.$$eval('#grid .day-head', (hs) => hs.map((h) => h.textContent));

const coffee = fs.readFileSync(path.join(DATA, 'images/coffee_q90.jpg'));
// Photos from different years; two on the same day (23:10 +08:00 and 08:00).
const DATED = [
  { name: '旅行/2019.jpg', date: '2019:03:01 08:00:00' },
  { name: '旅行/2023-evening.jpg', date: '2023:07:14 21:30:05', offset: '+08:00' },
  { name: '2021.jpg', date: '2021:12:31 23:59:00' },
  { name: '2023-morning.jpg', date: '2023:07:14 08:00:00' },
];

// ---------- one album with the tiny model, shared by the tests below ----------
let shared = null;
async function sharedAlbum() {
  if (shared) return shared;
  const a = await albums.start('dated', ['--model', MODEL]);
  // Through the API: the names keep their folder ("旅行/…") as a folder upload's do.
  const form = new FormData();
  for (const d of DATED) form.append('files', new Blob([jpegWithExifDate(coffee, d.date, d.offset)]), d.name);
  const up = await getJson(a.base + '/api/photos', { method: 'POST', body: form });
  assert.equal(up.uploaded.length, 4, JSON.stringify(up));
  await waitJobsIdle(a.base);
  const list = await getJson(a.base + '/api/photos');
  shared = { ...a, list };
  return shared;
}

test('photos with EXIF dates from different years come in taken order under day headers', { timeout: 90000 }, async () => {
  const a = await sharedAlbum();
  const api = await getJson(a.base + '/api/photos?sort=taken');
  assert.deepEqual(api.items.map((p) => p.taken_at),
    ['2023-07-14T21:30:05+08:00', '2023-07-14T08:00:00', '2021-12-31T23:59:00', '2019-03-01T08:00:00']);
  assert.ok(api.items.every((p) => p.taken_at_source === 'exif'));
  const timeline = await getJson(a.base + '/api/timeline');
  assert.deepEqual(timeline, [{ month: '2023-07', count: 2 }, { month: '2021-12', count: 1 }, { month: '2019-03', count: 1 }]);

  for (const [size, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
    const page = await newPage(size);
    await page.goto(a.base + '/');
    await page.waitForFunction(() => document.querySelectorAll('#grid .card img').length === 4);
    assert.deepEqual(await dayHeads(page), ['2023年7月14日 星期五', '2021年12月31日 星期五', '2019年3月1日 星期五']);
    assert.deepEqual(await cardIds(page), api.items.map((p) => p.id));
    // The header is sticky: scrolled, it stays under the top bar.
    assert.equal(await page.$eval('#grid .day-head', (h) => getComputedStyle(h).position), 'sticky');
    await page.waitForFunction(() => [...document.querySelectorAll('#grid .card img')].every((i) => i.complete && i.naturalWidth > 0));
    await page.screenshot({ path: path.join(SHOTS, `timeline-${name}.png`) });
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

test('honest search: nonsense finds nothing, 加载更多 pages by offset, filters go to the API', { timeout: 90000 }, async () => {
  const a = await sharedAlbum();
  const page = await newPage();
  await page.goto(a.base + '/');
  await page.waitForSelector('#grid .card');
  // The random test model recognises nothing: with the calibrated default every
  // query, nonsense first, is below the cut-off.
  await page.fill('#search-input', 'asdfghjkl');
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('#empty:not([hidden])');
  assert.match(await page.textContent('#empty-text'), /没有找到相关照片/);
  assert.equal(await page.evaluate(() => location.hash), '#/search?q=asdfghjkl');
  assert.equal((await cardIds(page)).length, 0);
  await page.screenshot({ path: path.join(SHOTS, 'search-nothing.png') });

  // With min_score 0 the same query lists the photos, without raw scores on them.
  const all = await getJson(a.base + '/api/search?min_score=0&q=asdfghjkl');
  assert.equal(all.items.length, 4);
  assert.ok(all.items.every((i) => i.score >= 0 && i.score <= 1));

  // 加载更多: a fake 130-hit search served in pages by offset.
  const hit = (id) => ({ ...a.list.items[id % 4], id, score: 0.8 });
  const offsets = [];
  await page.route('**/api/search?*', (route) => {
    const u = new URL(route.request().url()).searchParams;
    const off = +u.get('offset'), lim = +u.get('limit');
    offsets.push({ off, from: u.get('date_from'), to: u.get('date_to'), folder: u.get('folder') });
    const ids = Array.from({ length: 130 }, (_, i) => 1000 + i).slice(off, off + lim);
    return route.fulfill({ json: { query: u.get('q'), offset: off, limit: lim, items: ids.map(hit) } });
  });
  await page.click('#filter-btn');
  await page.fill('#filter-from', '2021-01-01');
  await page.fill('#filter-to', '2023-12-31');
  await page.selectOption('#filter-folder', '旅行');
  await page.fill('#search-input', '咖啡');
  await page.press('#search-input', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 60);
  assert.equal(await page.isVisible('#more-btn'), true);
  assert.equal(await page.$$eval('#grid .badge.score', (b) => b.length), 0, 'no raw numbers on the tiles');
  await page.click('#more-btn');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 120);
  await page.click('#more-btn');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 130);
  assert.equal(await page.isHidden('#more-btn'), true, 'no 加载更多 after the last page');
  assert.deepEqual(offsets.map((o) => o.off), [0, 60, 120]);
  assert.deepEqual(offsets[0], { off: 0, from: '2021-01-01', to: '2023-12-31', folder: '旅行' });
  assert.deepEqual(await cardIds(page), Array.from({ length: 130 }, (_, i) => 1000 + i));
  // The filters are in the URL: a reload restores them.
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /from=2021-01-01/);
  assert.match(hash, /folder=%E6%97%85%E8%A1%8C/);
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 60);
  assert.equal(await page.inputValue('#filter-from'), '2021-01-01');
  await page.screenshot({ path: path.join(SHOTS, 'search-filters.png') });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('previews: a JPEG of at most 2048 px, cached, also for a 16-bit PNG and a HEIC', { timeout: 90000 }, async () => {
  const a = await sharedAlbum();
  const form = new FormData();
  form.append('files', new Blob([png16(3000, 1200)]), 'deep16.png');
  // A real HEIC from the shared test data (not copied into the project).
  const heic = [path.join(SRC, '../shared'), path.join(SRC, '../../shared')]
    .map((d) => path.join(d, 'testdata/bad-images/libheif/colors-no-alpha-thumbnail.heic')).find((f) => fs.existsSync(f));
  assert.ok(heic, 'the shared test data (../shared/testdata) holds a HEIC');
  form.append('files', new Blob([fs.readFileSync(heic)]), 'phone.heic');
  const up = await getJson(a.base + '/api/photos', { method: 'POST', body: form });
  assert.equal(up.uploaded.length, 2, JSON.stringify(up));
  for (const u of up.uploaded) {
    const r = await fetch(`${a.base}/api/photos/${u.id}/preview`);
    assert.equal(r.status, 200, u.filename);
    assert.equal(r.headers.get('content-type'), 'image/jpeg');
    assert.match(r.headers.get('cache-control'), /max-age/);
    const size = jpegSize(Buffer.from(await r.arrayBuffer()));
    assert.ok(size && Math.max(size.width, size.height) <= 2048, `${u.filename}: ${JSON.stringify(size)}`);
    if (u.filename === 'deep16.png') assert.deepEqual(size, { width: 2048, height: 819 });
    const again = await fetch(`${a.base}/api/photos/${u.id}/preview`, { headers: { 'If-None-Match': r.headers.get('etag') } });
    assert.equal(again.status, 304);
    await fetch(`${a.base}/api/photos/${u.id}`, { method: 'DELETE' });
  }
});

test('the viewer never shows a stale photo; keyboard, Back/Forward and reload', { timeout: 90000 }, async () => {
  const a = await sharedAlbum();
  const ids = a.list.items.map((p) => p.id);  // taken order
  const page = await newPage();
  const holds = new Map();
  await page.route('**/api/photos/*/preview', async (route) => {
    const id = +route.request().url().match(/photos\/(\d+)\/preview/)[1];
    const g = holds.get(id);
    if (g) await g.p;
    await route.continue();
  });
  for (const id of ids) holds.set(id, gate());
  await page.goto(a.base + '/');
  await page.waitForSelector('#grid .card');
  const shown = () => page.$eval('#detail-img', (i) => ({ id: +i.dataset.photoId, stage: i.dataset.stage, src: i.getAttribute('src') }));

  await page.click(`#grid .card[data-id="${ids[0]}"]`);
  await page.waitForSelector('#detail:not([hidden])');
  assert.equal(await page.evaluate(() => location.hash), `#/photo/${ids[0]}`);
  let s = await shown();
  assert.equal(s.id, ids[0]);
  assert.equal(s.stage, 'thumb');  // the blurred thumbnail at once
  assert.match(s.src, new RegExp(`/api/photos/${ids[0]}/thumbnail`));
  // → while the first preview is still held back: the second photo, never the first.
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction((id) => document.getElementById('detail-img').dataset.photoId === String(id), ids[1]);
  assert.equal(await page.evaluate(() => location.hash), `#/photo/${ids[1]}`);
  assert.equal(await page.textContent('#detail-name'), a.list.items[1].filename);
  holds.get(ids[0]).open();  // the late preview of the first photo
  await page.waitForTimeout(400);
  s = await shown();
  assert.equal(s.id, ids[1]);
  assert.match(s.src, new RegExp(`/api/photos/${ids[1]}/thumbnail`));
  holds.get(ids[1]).open();
  await page.waitForFunction(() => document.getElementById('detail-img').dataset.stage === 'preview');
  assert.match((await shown()).src, new RegExp(`/api/photos/${ids[1]}/preview`));
  assert.equal(await page.getAttribute('#original-link', 'href'), `/api/photos/${ids[1]}/original`);
  await page.screenshot({ path: path.join(SHOTS, 'viewer-desktop.png') });
  for (const id of ids) holds.get(id).open();

  // Focus is in the dialog and Tab stays there.
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.getElementById('detail').contains(document.activeElement)), true);
  }
  // Esc closes, Back history returns to the timeline, focus goes back to the card.
  await page.keyboard.press('Escape');
  await page.waitForSelector('#detail', { state: 'hidden' });
  await page.waitForFunction(() => location.hash === '' || location.hash === '#/');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset?.id), String(ids[0]));

  // Back/Forward/reload: #/ -> #/photo/ID -> #/search -> #/similar/ID.
  await page.click(`#grid .card[data-id="${ids[2]}"]`);
  await page.waitForSelector('#detail:not([hidden])');
  await page.goBack();
  await page.waitForSelector('#detail', { state: 'hidden' });
  await page.goForward();
  await page.waitForFunction((id) => document.getElementById('detail-img')?.dataset.photoId === String(id) &&
    !document.getElementById('detail').hidden, ids[2]);
  await page.reload();
  await page.waitForFunction((id) => !document.getElementById('detail').hidden &&
    document.getElementById('detail-img').dataset.photoId === String(id), ids[2]);
  assert.equal(await page.textContent('#detail-name'), a.list.items[2].filename);
  await page.click('#similar-btn');
  await page.waitForFunction((id) => location.hash === `#/similar/${id}`, ids[2]);
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 3);
  await page.reload();
  await page.waitForFunction(() => /相似/.test(document.getElementById('section-title').textContent) &&
    document.querySelectorAll('#grid .card').length === 3);
  await page.goto(a.base + '/#/search?q=' + encodeURIComponent('海边的日落'));
  await page.waitForSelector('#empty:not([hidden])');
  assert.equal(await page.inputValue('#search-input'), '海边的日落');
  await page.goBack();
  await page.waitForFunction(() => /相似/.test(document.getElementById('section-title').textContent));
  await page.goForward();
  await page.waitForFunction(() => /海边的日落/.test(document.getElementById('section-title').textContent));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('phone: full-screen viewer, swipe, pinch and double-tap zoom, info sheet', { timeout: 60000 }, async () => {
  const a = await sharedAlbum();
  const ids = a.list.items.map((p) => p.id);
  const page = await newPage(PHONE);
  await page.goto(a.base + `/#/photo/${ids[1]}`);
  await page.waitForFunction((id) => !document.getElementById('detail').hidden &&
    document.getElementById('detail-img').dataset.photoId === String(id), ids[1]);
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 4);
  const box = await page.$eval('.detail-image', (e) => { const r = e.getBoundingClientRect(); return { w: r.width, h: r.height }; });
  assert.ok(box.w >= 380 && box.h >= 800, `full screen: ${JSON.stringify(box)}`);
  // Touch pointers dispatched on the stage (what a finger sends).
  const touch = (steps) => page.evaluate(async (steps) => {
    const el = document.querySelector('.detail-image');
    for (const [type, id, x, y] of steps) {
      el.dispatchEvent(new PointerEvent(type, { pointerId: id, pointerType: 'touch', clientX: x, clientY: y, bubbles: true, isPrimary: id === 1 }));
      await new Promise((r) => setTimeout(r, 16));
    }
  }, steps);
  const swipe = (x0, x1) => touch([['pointerdown', 1, x0, 400], ['pointermove', 1, (x0 + x1) / 2, 405], ['pointermove', 1, x1, 410], ['pointerup', 1, x1, 410]]);
  await swipe(320, 80);  // to the left: the next photo
  await page.waitForFunction((id) => document.getElementById('detail-img').dataset.photoId === String(id), ids[2]);
  assert.equal(await page.evaluate(() => location.hash), `#/photo/${ids[2]}`);
  await swipe(60, 330);  // to the right: back
  await page.waitForFunction((id) => document.getElementById('detail-img').dataset.photoId === String(id), ids[1]);
  // Pinch out with two fingers: zoomed; a swipe then pans instead of changing photo.
  await touch([['pointerdown', 1, 150, 400], ['pointerdown', 2, 240, 400], ['pointermove', 1, 100, 400],
    ['pointermove', 2, 290, 400], ['pointermove', 1, 50, 400], ['pointermove', 2, 340, 400], ['pointerup', 1, 50, 400], ['pointerup', 2, 340, 400]]);
  assert.equal(await page.$eval('.detail-image', (e) => e.classList.contains('zoomed')), true);
  const scale = await page.$eval('#detail-img', (i) => i.style.transform);
  assert.match(scale, /scale\((?!1\))/);
  await swipe(300, 100);
  assert.equal(+(await page.$eval('#detail-img', (i) => i.dataset.photoId)), ids[1], 'zoomed: a drag pans');
  // Double tap: back to 1x; again: zoomed.
  const tap = (x, y) => touch([['pointerdown', 1, x, y], ['pointerup', 1, x, y]]);
  await tap(200, 400); await tap(200, 400);
  await page.waitForFunction(() => !document.querySelector('.detail-image').classList.contains('zoomed'));
  await tap(200, 400); await tap(200, 400);
  await page.waitForFunction(() => document.querySelector('.detail-image').classList.contains('zoomed'));
  await tap(200, 400); await tap(200, 400);
  await page.waitForFunction(() => !document.querySelector('.detail-image').classList.contains('zoomed'));
  // One tap: the info sheet.
  await page.waitForTimeout(400);
  await tap(200, 400);
  await page.waitForFunction(() => document.querySelector('.detail-card').classList.contains('info-open'));
  await page.waitForTimeout(400);
  await page.screenshot({ path: path.join(SHOTS, 'viewer-phone-info.png') });
  await page.click('.stage-close');
  await page.waitForSelector('#detail', { state: 'hidden' });
  await page.screenshot({ path: path.join(SHOTS, 'timeline-phone-after-viewer.png') });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

// The phone variant of the stale-photo check: a swipe to the next photo while
// the previous one's preview is still held back never shows that preview under
// the new caption.
test('phone: a swipe while the preview is slow never shows the previous photo', { timeout: 60000 }, async () => {
  const a = await sharedAlbum();
  const ids = a.list.items.map((p) => p.id);
  const page = await newPage(PHONE);
  const holds = new Map(ids.map((id) => [id, gate()]));
  await page.route('**/api/photos/*/preview', async (route) => {
    const id = +route.request().url().match(/photos\/(\d+)\/preview/)[1];
    await holds.get(id)?.p;
    await route.continue().catch(() => {});  // the page may have moved on
  });
  await page.goto(a.base + '/');
  await page.waitForSelector('#grid .card');
  const shown = () => page.$eval('#detail-img', (i) => ({ id: +i.dataset.photoId, stage: i.dataset.stage, src: i.getAttribute('src') }));
  await page.tap(`#grid .card[data-id="${ids[0]}"]`);
  await page.waitForSelector('#detail:not([hidden])');
  let s = await shown();
  assert.equal(s.id, ids[0]);
  assert.equal(s.stage, 'thumb');
  // A finger swipes left on the stage: the next photo.
  await page.evaluate(async () => {
    const el = document.querySelector('.detail-image');
    for (const [type, x, y] of [['pointerdown', 320, 400], ['pointermove', 200, 405], ['pointermove', 80, 410], ['pointerup', 80, 410]]) {
      el.dispatchEvent(new PointerEvent(type, { pointerId: 1, pointerType: 'touch', clientX: x, clientY: y, bubbles: true, isPrimary: true }));
      await new Promise((r) => setTimeout(r, 16));
    }
  });
  await page.waitForFunction((id) => document.getElementById('detail-img').dataset.photoId === String(id), ids[1]);
  assert.equal(await page.evaluate(() => location.hash), `#/photo/${ids[1]}`);
  assert.equal(await page.textContent('#detail-name'), a.list.items[1].filename);
  s = await shown();
  assert.match(s.src, new RegExp(`/api/photos/${ids[1]}/thumbnail`), 'the new photo\'s thumbnail, never the old preview');
  holds.get(ids[0]).open();  // the first photo's preview arrives late
  await page.waitForTimeout(400);
  s = await shown();
  assert.equal(s.id, ids[1]);
  assert.doesNotMatch(s.src, new RegExp(`/api/photos/${ids[0]}/`));
  assert.equal(await page.textContent('#detail-name'), a.list.items[1].filename);
  holds.get(ids[1]).open();
  await page.waitForFunction(() => document.getElementById('detail-img').dataset.stage === 'preview');
  assert.match((await shown()).src, new RegExp(`/api/photos/${ids[1]}/preview`));
  await page.screenshot({ path: path.join(SHOTS, 'viewer-phone-after-slow-preview.png') });
  for (const g of holds.values()) g.open();
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('uploads appear live, cancel stops them, retry after a server restart loses nothing', { timeout: 120000 }, async () => {
  let a = await albums.start('live', []);
  const page = await newPage();
  await page.goto(a.base + '/');
  await page.waitForSelector('#empty:not([hidden])');
  let serial = 0;  // every file its own date: different bytes, no duplicates
  const files = (names) => names.map((n) => {
    const k = serial++;
    return { name: n, mimeType: 'image/jpeg',
      buffer: jpegWithExifDate(coffee, `2022:${String(1 + (k % 12)).padStart(2, '0')}:${String(1 + (k % 28)).padStart(2, '0')} ${String(k % 24).padStart(2, '0')}:00:00`) };
  });
  const pass = async (route) => { try { await route.continue(); } catch (e) { /* aborted by 取消 */ } };

  // 1. Live: the first file is in the grid while the others are still held back.
  const held = gate();
  let first = true;
  await page.route('**/api/photos', async (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    if (first) { first = false; return pass(route); }
    await held.p;
    return pass(route);
  });
  await page.setInputFiles('#files-input', files(['a1.jpg', 'a2.jpg', 'a3.jpg', 'a4.jpg', 'a5.jpg']));
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 1);
  assert.equal(await page.isHidden('#empty'), true, '还没有照片 goes with the first photo');
  assert.match(await page.textContent('#upload-title'), /正在上传：1 \/ 5 张/);
  assert.equal(await page.isHidden('#jobs'), true, 'one progress bar');
  await page.screenshot({ path: path.join(SHOTS, 'upload-live.png') });
  held.open();
  await page.waitForFunction(() => document.getElementById('upload-title').textContent === '上传完成');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 5);
  await page.unroute('**/api/photos');

  // 2. Cancel: everything not yet stored is 已取消; nothing is left 上传中.
  const never = gate();
  await page.route('**/api/photos', async (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    await never.p;
    return pass(route);
  });
  await page.setInputFiles('#files-input', files(['b1.jpg', 'b2.jpg', 'b3.jpg', 'b4.jpg', 'b5.jpg', 'b6.jpg', 'b7.jpg']));
  await page.waitForSelector('#upload-cancel:not([hidden])');
  await page.click('#upload-cancel');
  await page.waitForFunction(() => /已取消 7/.test(document.getElementById('upload-summary').textContent));
  assert.doesNotMatch(await page.textContent('#upload-list'), /上传中|等待中/);
  assert.equal(await page.isVisible('#upload-retry'), true);
  never.open();
  await page.unroute('**/api/photos');
  await page.click('#upload-retry');
  await page.waitForFunction(() => document.getElementById('upload-title').textContent === '上传完成');
  assert.match(await page.textContent('#upload-summary'), /已上传 7/);
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 12);

  // 3. The server goes away mid-batch: files fail (重试), one banner, no stacked toasts;
  // back on the same port, 重试失败的文件 stores every one of them.
  await Albums.stop(a.child);
  await page.setInputFiles('#files-input', [...files(['c1.jpg', 'c2.jpg', 'c3.jpg']),
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('不是图片') }]);
  await page.waitForFunction(() => /失败 4/.test(document.getElementById('upload-summary').textContent), null, { timeout: 20000 });
  await page.waitForSelector('#conn-banner:not([hidden])');
  assert.match(await page.textContent('#conn-banner'), /与相册服务的连接已断开，正在重试/);
  assert.ok((await page.$$('.toast')).length <= 1, 'no stacked toasts');
  assert.match(await page.textContent('#upload-list'), /上传时连接中断/);
  await page.screenshot({ path: path.join(SHOTS, 'server-down.png') });
  a = await albums.start('live', [], a.port);
  await page.waitForSelector('#conn-banner', { state: 'hidden', timeout: 20000 });
  await page.click('#upload-retry');
  await page.waitForFunction(() => document.getElementById('upload-title').textContent === '上传完成', null, { timeout: 20000 });
  const summary = await page.textContent('#upload-summary');
  assert.match(summary, /已上传 3/);
  assert.match(summary, /被拒绝 1/);
  assert.match(summary, /不是可识别的图片/, 'the reason in Chinese');
  assert.doesNotMatch(await page.textContent('#upload-list'), /not a recognised|format/i);
  assert.equal((await getJson(a.base + '/api/photos')).total, 15);
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 15);
  await page.screenshot({ path: path.join(SHOTS, 'upload-retried.png') });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('10,000 photos: first photo fast, the scrubber jumps to a month without loading what is before it', { timeout: 180000 }, async () => {
  assert.ok(FILL, 'SA_FILL_ALBUM must be set (ctest sets it)');
  const dir = path.join(tmp, 'big');
  execFileSync(FILL, [dir, '10000', path.join(DATA, 'images/coffee_q90.jpg'), '10']);
  const a = await albums.start('big', []);
  const page = await newPage();
  const requests = [];
  page.on('request', (r) => { if (r.url().includes('/api/photos?')) requests.push(r.url()); });
  const t0 = Date.now();
  await page.goto(a.base + '/');
  await page.waitForFunction(() => [...document.querySelectorAll('#grid .card img')].some((i) => i.complete && i.naturalWidth > 0));
  const metrics = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    const bytes = (e) => e.encodedBodySize || e.transferSize || 0;
    const img = res.filter((e) => /thumbnail/.test(e.name));
    return {
      time_to_first_photo_ms: Math.round(Math.min(...img.map((e) => e.responseEnd))),
      dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
      page_bytes_html_js_css: bytes(nav) + res.filter((e) => /\.(js|css)$/.test(e.name)).reduce((s, e) => s + bytes(e), 0),
      api_json_bytes_first_view: res.filter((e) => /\/api\//.test(e.name) && !/thumbnail/.test(e.name)).reduce((s, e) => s + bytes(e), 0),
      thumbnail_bytes_first_view: img.reduce((s, e) => s + bytes(e), 0),
      thumbnails_requested: img.length,
      cards_in_dom: document.querySelectorAll('#grid .card').length,
    };
  });
  metrics.wall_ms_goto_to_first_photo = Date.now() - t0;
  assert.equal(await page.textContent('#section-count'), '10000 张');
  assert.ok(metrics.cards_in_dom <= 120, `first view loads a page or two, not the library: ${metrics.cards_in_dom}`);
  await page.screenshot({ path: path.join(SHOTS, 'big-timeline.png') });

  // The month of the photos in the middle of the screen.
  const topMonth = (p) => p.evaluate(() => {
    const mid = innerHeight / 2;
    const day = [...document.querySelectorAll('#grid section.day')].find((d) => {
      const r = d.getBoundingClientRect();
      return r.top <= mid && r.bottom > mid;
    });
    return day ? day.dataset.month : null;
  });
  // Jump to March 2016 with the scrubber.
  const before = requests.length;
  await page.click('.scrub-month[data-month="2016-03"]');
  await page.waitForFunction(() => location.hash === '#/?month=2016-03');
  await page.waitForFunction(() => [...document.querySelectorAll('#grid section.day')].some((d) => d.dataset.month === '2016-03'));
  await page.waitForTimeout(500);
  assert.equal(await topMonth(page), '2016-03');
  const jumpReq = requests.slice(before);
  const fromMonth = jumpReq.filter((u) => /date_to=2016-03/.test(u));
  assert.equal(fromMonth.length, 1, jumpReq.join('\n'));
  // One page from the month down and at most one page above it, never everything before it.
  assert.ok(jumpReq.length <= 2, jumpReq.join('\n'));
  const loaded = await cardIds(page);
  assert.ok(loaded.length <= 120, `pages around the month, not the library: ${loaded.length}`);
  assert.equal(await page.$eval('.scrub-month.current', (b) => b.dataset.month), '2016-03');
  await page.screenshot({ path: path.join(SHOTS, 'big-jump-2016-03.png') });
  // Scrolling up loads newer photos (April 2016 ...) above.
  for (let i = 0; i < 20 && (await topMonth(page)) === '2016-03'; i++) {
    await page.evaluate(() => window.scrollBy(0, -600));
    await page.waitForTimeout(300);
  }
  assert.equal(await topMonth(page), '2016-04');
  assert.ok(requests.slice(before).some((u) => /after=/.test(u)));
  // Back returns to the newest photos.
  await page.goBack();
  await page.waitForFunction(() => document.querySelector('#grid .day-head')?.textContent.startsWith('2024年12月'));
  // Phone: the same jump.
  const phone = await newPage(PHONE);
  await phone.goto(a.base + '/#/?month=2019-08');
  await phone.waitForFunction(() => [...document.querySelectorAll('#grid section.day')].some((d) => d.dataset.month === '2019-08'));
  await phone.waitForTimeout(500);
  assert.equal(await topMonth(phone), '2019-08');
  await phone.screenshot({ path: path.join(SHOTS, 'big-jump-phone.png') });
  // A finger dragged along the scrubber (real touch events through CDP) picks
  // the month it is released on, and the page does not scroll meanwhile.
  const target = await phone.$$eval('.scrub-month', (bs) => {
    const b = bs[Math.floor(bs.length * 0.8)], r = b.getBoundingClientRect();
    const s = bs[Math.floor(bs.length * 0.2)].getBoundingClientRect();
    return { month: b.dataset.month, x: r.left + r.width / 2, y: r.top + r.height / 2, y0: s.top + s.height / 2 };
  });
  const cdp = await phone.context().newCDPSession(phone);
  const finger = (type, y) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x: target.x, y }] });
  const scrolled = await phone.evaluate(() => scrollY);
  await finger('touchStart', target.y0);
  for (let k = 1; k <= 6; k++) await finger('touchMove', target.y0 + (target.y - target.y0) * k / 6);
  assert.equal(await phone.isVisible('.scrub-bubble'), true, 'the month shows beside the finger');
  assert.equal(await phone.evaluate(() => scrollY), scrolled, 'the drag does not scroll the page');
  await finger('touchEnd');
  await phone.waitForFunction((m) => location.hash === `#/?month=${m}`, target.month);
  await phone.waitForFunction((m) => [...document.querySelectorAll('#grid section.day')].some((d) => d.dataset.month === m), target.month);
  await phone.waitForTimeout(500);
  assert.equal(await topMonth(phone), target.month);
  await phone.context().close();
  fs.writeFileSync(path.join(SHOTS, 'browse-10k-metrics.json'), JSON.stringify(metrics, null, 2));
  console.log('10k metrics', JSON.stringify(metrics));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
