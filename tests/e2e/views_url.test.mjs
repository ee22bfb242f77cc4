// Browser test: every organise view has its own URL, as the timeline, a search
// and a photo do (router.js): #/favorites, #/albums, #/album/ID, #/trash,
// #/duplicates. The nav writes them; Back/Forward walk them; a reload (or a
// copied link) shows the same view; a photo opened from an album returns to
// it. Desktop (1440x900) and phone (390x844, touch) in Debian's chromium,
// against the real `smart-album serve` with the tiny model; screenshots go to
// build/e2e-artifacts/views-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Albums, getJson, launchChromium, waitJobsIdle } from './harness.mjs';
import { DESKTOP, jpegWithExifDate, PHONE, shotDir, testEnv } from './browse_util.mjs';

const { BIN, DATA, SRC, MODEL } = testEnv();
const SHOTS = shotDir();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-views-'));
const albums = new Albums(BIN, SRC, tmp);
let browser, a;
const lib = {};  // ids: photos (taken order), album, favorite, trashed

const post = (url, body) => getJson(a.base + url, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
});

before(async () => {
  browser = await launchChromium();
  a = await albums.start('views', ['--model', MODEL]);
  // Five photos of the same coffee (different EXIF dates: different files, the
  // same pixels, so 重复照片 has a group), two in an album, one favourite, one in the trash.
  const coffee = fs.readFileSync(path.join(DATA, 'images/coffee_q90.jpg'));
  const form = new FormData();
  for (let k = 0; k < 5; k++) form.append('files', new Blob([jpegWithExifDate(coffee, `2023:0${k + 1}:1${k} 10:00:00`)]), `咖啡${k}.jpg`);
  const up = await getJson(a.base + '/api/photos', { method: 'POST', body: form });
  assert.equal(up.uploaded.length, 5, JSON.stringify(up));
  await waitJobsIdle(a.base);
  const ids = up.uploaded.map((u) => u.id);
  lib.album = (await post('/api/albums', { name: '旅行' })).id;
  assert.ok(lib.album > 0);
  await post('/api/photos/batch', { action: 'add_to_album', ids: [ids[0], ids[1]], album_id: lib.album });
  await post('/api/photos/batch', { action: 'favorite', ids: [ids[2]] });
  await post('/api/photos/batch', { action: 'trash', ids: [ids[4]] });
  Object.assign(lib, { ids, albumIds: [ids[0], ids[1]], favorite: ids[2], trashed: ids[4] });
});

after(async () => {
  if (browser) await browser.close();
  await albums.stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function newPage(size) {
  const ctx = await browser.newContext({
    viewport: size, locale: 'zh-CN', timezoneId: 'Asia/Shanghai',
    ...(size === PHONE ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}

const ids = (page, sel) => page.$$eval(`${sel} .card`, (cs) => cs.map((c) => +c.dataset.id).sort((x, y) => x - y));
const sorted = (xs) => [...xs].sort((x, y) => x - y);

// Waits until `view` is what the page shows (content, title, nav, URL).
async function expectView(page, view) {
  const hashes = { all: '#/', favorites: '#/favorites', albums: '#/albums', album: `#/album/${lib.album}`, trash: '#/trash', duplicates: '#/duplicates' };
  await page.waitForFunction((h) => (location.hash || '#/') === h, hashes[view], { timeout: 10000 })
    .catch(async () => assert.fail(`${view}: URL is ${await page.evaluate(() => location.hash)}`));
  const gallery = ['all', 'favorites', 'album'].includes(view);
  if (gallery) {
    const want = { all: lib.ids.filter((id) => id !== lib.trashed), favorites: [lib.favorite], album: lib.albumIds }[view];
    await page.waitForFunction((n) => document.getElementById('org-view').hidden &&
      document.querySelectorAll('#grid .card').length === n, want.length, { timeout: 10000 });
    assert.deepEqual(await ids(page, '#grid'), sorted(want), view);
    const title = { all: '全部照片', favorites: '收藏', album: '相册：旅行' }[view];
    await page.waitForFunction((t) => document.getElementById('section-title').textContent === t, title);
  } else {
    await page.waitForFunction((v) => !document.getElementById('org-view').hidden &&
      document.getElementById('org-view').dataset.view === v, view, { timeout: 10000 });
    assert.equal(await page.isVisible('main.content'), false, `${view}: the gallery is hidden`);
    if (view === 'albums') {
      await page.waitForSelector(`.album-card[data-id="${lib.album}"]`);
      assert.match(await page.textContent('.album-card'), /旅行.*2 张/);
      // 重命名, 删除相册 and 共享 all inside the card, none cut off at its edge.
      const cut = await page.$$eval('.album-card', (cards) => cards.flatMap((c) => {
        const box = c.getBoundingClientRect();
        return [...c.querySelectorAll('.album-tools .btn')].filter((b) => b.getBoundingClientRect().right > box.right + 0.5).map((b) => b.textContent);
      }));
      assert.deepEqual(cut, [], 'album buttons cut off');
    } else if (view === 'trash') {
      await page.waitForSelector('#trash-grid .card');
      assert.deepEqual(await ids(page, '#trash-grid'), [lib.trashed]);
    } else {
      await page.waitForSelector('.dup-group .card');
    }
  }
  const nav = { all: 'all', favorites: 'favorites', albums: 'albums', album: 'albums', trash: 'trash', duplicates: 'duplicates' }[view];
  const activeNav = () => page.$$eval('#org-nav [data-nav].active', (bs) => bs.map((b) => b.dataset.nav));
  // The nav follows the view in the same task on an idle machine; allow it a moment on a busy one.
  await page.waitForFunction((n) => {
    const act = [...document.querySelectorAll('#org-nav [data-nav].active')].map((b) => b.dataset.nav);
    return act.length === 1 && act[0] === n;
  }, nav, { timeout: 5000 }).catch(() => {});
  assert.deepEqual(await activeNav(), [nav], `${view}: nav`);
}

for (const [size, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
  test(`${name}: each organise view has a URL; Back, Forward and reload restore it`, { timeout: 120000 }, async () => {
    const page = await newPage(size);
    await page.goto(a.base + '/');
    await expectView(page, 'all');
    // The nav writes each view's URL, one history entry each; a reload shows the same view.
    const walk = ['favorites', 'albums', 'album', 'trash', 'duplicates'];
    for (const v of walk) {
      if (v === 'album') await page.click(`.album-card[data-id="${lib.album}"] .album-cover`);
      else await page.click(`#org-nav [data-nav="${v}"]`);
      await expectView(page, v);
      await page.reload();
      await expectView(page, v);
      await page.screenshot({ path: path.join(SHOTS, `views-${v}-${name}.png`) });
    }
    // Back through all of them to the timeline, then Forward again.
    for (const v of [...walk].reverse().slice(1)) { await page.goBack(); await expectView(page, v); }
    await page.goBack();
    await expectView(page, 'all');
    for (const v of walk) { await page.goForward(); await expectView(page, v); }

    // A copied link opens the view in a new page.
    for (const v of ['album', 'trash', 'favorites']) {
      const other = await newPage(size);
      await other.goto(a.base + (v === 'album' ? `/#/album/${lib.album}` : `/#/${v}`));
      await expectView(other, v);
      assert.deepEqual(other.errors, []);
      await other.context().close();
    }

    // A photo opened in an album: Esc returns to the album (its URL), not the timeline.
    await page.goto(a.base + `/#/album/${lib.album}`);
    await expectView(page, 'album');
    await page.click(`#grid .card[data-id="${lib.albumIds[0]}"]`);
    await page.waitForFunction((id) => location.hash === `#/photo/${id}`, lib.albumIds[0]);
    // Reloaded, the photo opens over the same album, and Esc still returns to it.
    await page.reload();
    await page.waitForSelector('#detail:not([hidden])');
    await page.waitForFunction(() => document.getElementById('section-title').textContent === '相册：旅行');
    await page.waitForSelector('.detail-image img:not(.blur)');  // the preview, not the blurred thumbnail
    await page.waitForTimeout(400);  // past the .25 s un-blur transition
    await page.screenshot({ path: path.join(SHOTS, `views-photo-reloaded-${name}.png`) });
    await page.keyboard.press('Escape');
    await page.waitForSelector('#detail', { state: 'hidden' });
    await expectView(page, 'album');
    // An album that does not exist: said in Chinese, and the album list instead.
    await page.goto(a.base + '/#/album/99999');
    await expectView(page, 'albums');
    const t = page.locator('.toast.error');
    await t.waitFor();
    assert.match(await t.textContent(), /找不到这个相册/);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
}
