// 智能相册 page: timeline (infinite scroll both ways, month scrubber), search,
// similar photos, the photo viewer, job progress; hash URLs (router.js). The
// viewer's info pane is detail.js, 设置 settings.js, the organise views
// (收藏, 相册, 回收站, 重复照片) organise.js, toasts toast.js.
import { api, hooks } from './api.js';
import { signIn } from './auth.js';
import { Uploader, filesFromDrop, filesFromInput } from './upload.js';
import { Connection, errorText } from './errors.js';
import { parseHash, go, hashFor, sameRoute } from './router.js';
import { DayGroups, Scrubber, cursorOf, dayKey, newerFirst } from './timeline.js';
import { Viewer } from './viewer.js';
import { FocusTrap } from './dialog.js';
import { initPrecision } from './precision.js';
import { fitPlaceholder } from './placeholder.js';
import { toast, toastError } from './toast.js';
import { analyze, debugScores, fmtScore, initDetail, renderDetail, startAnalyzePoll, stopAnalyzePoll } from './detail.js';
import { initSettings, loadHealth, loadSettings, saveSetting } from './settings.js';

const $ = (id) => document.getElementById(id);
const PER_PAGE = 60;
const SEARCH_PAGE = 60;
const SEARCH_MAX = 1000;  // the server pages search results up to offset + limit = 1000

const state = {
  view: 'all',        // 'all' | 'search' | 'similar'
  items: [],          // photos shown, in order (search hits carry score)
  total: 0, done: false, loading: false,
  failed: false,      // the photo list did not load: wait for 重试
  gen: 0,             // bumped by reset(); a reply for an older gen is dropped
  query: '', similarTo: null,
  filter: {},         // {favorite: 1} or {album: ID} on the 'all' view (organise.js)
  settings: { auto_analyze: false, enhanced_search: false },
  health: null,
  current: -1,        // index in items of the open detail
  pollTimer: null,
  route: null,        // the route shown (router.js)
  base: { name: 'all' },  // the list under the viewer (Back from #/photo/ID goes here)
  month: '',          // timeline started at this month (scrubber jump): newer photos load on scroll up
  topDone: true,      // nothing newer than items[0] is left to load
  loadingTop: false,
  searchRoute: null, searchMore: false, searchLoading: false,
  viewerPushed: false,  // the viewer's URL was pushed by a click here (close = Back)
};
const groups = () => new DayGroups($('grid'));
let scrubber = null, viewer = null, connection = null, uploader = null;
const traps = {};

const EMBED_STATE = { pending: '处理中', failed: '失败', no_model: '' };
const NEEDS_MODEL = '搜索需要模型：请用 --model 启动相册后再搜索或查找相似照片。照片仍可上传和浏览。';

// ---------- gallery ----------
function card(p, index) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'card';
  b.dataset.index = index;
  b.dataset.id = p.id;
  b.dataset.day = (p.taken_at || p.added_at || '').slice(0, 10);  // organise.js: select a day
  if (p.favorite) b.dataset.favorite = '1';
  const img = document.createElement('img');
  img.loading = 'lazy';
  img.decoding = 'async';
  img.alt = p.filename;
  img.src = p.thumbnail_url;
  b.appendChild(img);
  if (typeof p.score === 'number' && debugScores) {
    const s = document.createElement('span');
    s.className = 'badge score';
    s.textContent = fmtScore(p.score);
    s.title = '相似度';
    b.appendChild(s);
  }
  const st = EMBED_STATE[p.status];
  if (st) {
    const s = document.createElement('span');
    s.className = 'badge state';
    s.textContent = st;
    b.appendChild(s);
  }
  const c = document.createElement('span');
  c.className = 'caption';
  c.textContent = (p.folder ? p.folder + '/' : '') + p.filename;
  b.appendChild(c);
  return b;
}

function renderAppend(newItems) {
  const grid = $('grid');
  const start = state.items.length;
  state.items.push(...newItems);
  const cards = newItems.map((p, i) => card(p, start + i));
  if (state.view === 'all') {
    groups().append(newItems, cards);
  } else {
    const frag = document.createDocumentFragment();
    cards.forEach((c) => frag.appendChild(c));
    grid.appendChild(frag);
  }
  updateHead();
  if (!$('detail').hidden) {
    // A photo opened from a link before its list had loaded finds its place in
    // it, so ‹ › and swipes work; › follows the list as it grows behind it.
    if (state.current < 0) state.current = state.items.findIndex((x) => x.id === state.shownId);
    $('detail-prev').hidden = state.current <= 0;
    $('detail-next').hidden = state.current < 0 || state.current >= state.items.length - 1;
  }
}

const reindex = () => $('grid').querySelectorAll('.card').forEach((c, i) => { c.dataset.index = i; });

// A photo that just finished uploading goes to its place in the timeline (by
// date taken) when that place is among the photos loaded; otherwise the
// scrolling that reaches its place loads it.
function insertLive(p) {
  if (state.view !== 'all' || state.items.some((x) => x.id === p.id)) return;
  state.total++;
  let at = state.items.findIndex((x) => newerFirst(p, x) < 0);
  if (at < 0) at = state.items.length;
  const fits = (at > 0 || state.topDone) && (at < state.items.length || state.done);
  if (!fits) return updateHead();
  state.items.splice(at, 0, p);
  const keep = window.scrollY, before = document.documentElement.scrollHeight;
  const firstBefore = $('grid').querySelector('.card');
  const above = firstBefore && firstBefore.getBoundingClientRect().top < 0 && at === 0;
  groups().insertAt(state.items, at, card(p, at));
  reindex();
  if (above) window.scrollTo(0, keep + document.documentElement.scrollHeight - before);
  if (state.current >= at && !$('detail').hidden) state.current++;
  updateHead();
}

// After a scrubber jump: the page of photos just newer than the first shown,
// put on top without moving what the reader looks at.
async function loadNewer() {
  if (state.view !== 'all' || state.topDone || state.loadingTop || !state.items.length) return;
  const gen = state.gen;
  state.loadingTop = true;
  let res;
  try { res = await api.timelinePage({ after: cursorOf(state.items[0]), limit: PER_PAGE }); } catch (e) {
    state.loadingTop = false;
    return toastError(e, 'list');
  }
  if (gen !== state.gen) return;
  state.loadingTop = false;
  state.topDone = !res.next_cursor;
  const shown = new Set(state.items.map((p) => p.id));
  const fresh = res.items.filter((p) => !shown.has(p.id));
  if (!fresh.length) return;
  const keep = window.scrollY, before = document.documentElement.scrollHeight;
  state.items.unshift(...fresh);
  groups().prepend(fresh, fresh.map((p, i) => card(p, i)));
  reindex();
  window.scrollTo(0, keep + document.documentElement.scrollHeight - before);
  if (state.current >= 0) state.current += fresh.length;
}

function updateHead() {
  const n = state.view === 'all' ? state.total : state.items.length;
  $('section-count').textContent = n ? `${n} 张` : '';
  const empty = state.items.length === 0 && state.done;
  $('empty').hidden = !empty;
  if (empty && !state.emptyError) {
    $('empty-text').textContent = state.view === 'all'
      ? '还没有照片。点击右上角「上传」选择一个文件夹，或把照片拖到这里。'
      : '没有找到相关照片。换个描述，或放宽日期和文件夹筛选；也可以在「设置」里调低搜索结果的相关度门槛。';
  }
  $('more-btn').hidden = !(state.view === 'search' && state.searchMore && !state.searchLoading);
}

// Starts a new view. Requests of the old view may still be in flight: their
// replies see a newer state.gen and leave state and DOM alone.
function reset(view) {
  state.gen++;
  state.view = view;
  state.items = [];
  state.total = 0;
  state.done = false;
  state.loading = false;
  state.failed = false;
  state.emptyError = false;
  state.nextCursor = null;
  state.month = '';
  state.topDone = true;
  state.loadingTop = false;
  state.searchMore = false;
  state.searchLoading = false;
  $('grid').textContent = '';
  $('grid').classList.toggle('timeline', view === 'all');
  $('scrubber').hidden = view !== 'all' || !scrubber || scrubber.months.length < 2;
  $('filters-row').hidden = $('filters-row').dataset.open !== '1';
  $('empty').hidden = true;
  $('load-error').hidden = true;
  $('spinner').hidden = true;
  $('back-btn').hidden = view === 'all';
  $('more-btn').hidden = true;
}

async function loadMore() {
  if (state.loading || state.done || state.failed || state.view !== 'all') return;
  const gen = state.gen;
  state.loading = true;
  $('spinner').hidden = false;
  // A cursor (the oldest photo shown), not a page number: photos deleted or
  // uploaded meanwhile do not shift what the next page holds. The first page
  // after a scrubber jump starts at the end of that month.
  const last = state.items[state.items.length - 1];
  let res = null, error = null;
  try {
    res = await api.timelinePage(last ? { cursor: cursorOf(last), limit: PER_PAGE, ...state.filter }
      : { dateTo: state.month || undefined, limit: PER_PAGE, ...state.filter });
  } catch (e) { error = e; }
  if (gen !== state.gen) return;
  state.loading = false;
  $('spinner').hidden = true;
  if (error) {
    state.failed = true;
    $('load-error-text').textContent = '照片列表加载失败：' + errorText(error, 'list');
    $('load-error').hidden = false;
  } else {
    if (!state.month || state.items.length) state.total = res.total;
    const shown = new Set(state.items.map((p) => p.id));
    const first = !state.items.length;
    renderAppend(res.items.filter((p) => !shown.has(p.id)));
    state.done = !res.next_cursor;
    if (first && state.month) {
      scrubber?.highlight(state.month);
      // The top sentinel has been on screen all along (no new intersection to
      // report): load what is just newer now, kept above the reader's place.
      if ($('top-sentinel').getBoundingClientRect().bottom > 0) setTimeout(loadNewer, 0);
    }
  }
  updateHead();
  // Keep filling while the sentinel is still on screen (tall screens).
  if (!state.done && !state.failed && isVisible($('sentinel'))) loadMore();
}

function retryLoad() {
  state.failed = false;
  $('load-error').hidden = true;
  // Thumbnails that failed while the server was away load again too.
  $('grid').querySelectorAll('img').forEach((img) => {
    if (img.complete && img.naturalWidth === 0) img.src = img.src.split('?')[0] + '?retry=' + Date.now();
  });
  loadMore();
}
const isVisible = (el) => el.getBoundingClientRect().top < window.innerHeight + 400;

// The timeline, from the newest photo or (month = "YYYY-MM", a scrubber jump)
// from the end of that month; newer photos then load when scrolling up.
function showAll(month = '') {
  $('search-input').value = '';
  $('section-title').textContent = '全部照片';
  reset('all');
  state.filter = {};
  document.dispatchEvent(new CustomEvent('sa:view', { detail: { filter: {} } }));
  state.month = month;
  state.topDone = !month;
  window.scrollTo(0, 0);
  loadMore();
  loadTimeline();
}

// A filtered gallery (favourites, one album) asked for by organise.js. No month
// scrubber: its counts are the whole library's.
function showFiltered({ title, filter }) {
  $('search-input').value = '';
  $('section-title').textContent = title;
  reset('all');
  state.filter = filter;
  state.month = '';
  state.topDone = true;
  window.scrollTo(0, 0);
  $('back-btn').hidden = false;
  $('scrubber').hidden = true;
  document.dispatchEvent(new CustomEvent('sa:view', { detail: { filter } }));
  loadMore();
}

async function loadTimeline() {
  try {
    const months = await api.timeline();
    if (!scrubber) return;
    scrubber.load(months);
    if (state.view === 'all' && (state.month || !state.total)) state.total = months.reduce((n, m) => n + m.count, 0);
    $('scrubber').hidden = state.view !== 'all' || Object.keys(state.filter || {}).length > 0 || months.length < 2;
    if (state.month) scrubber.highlight(state.month);
    if (state.view === 'all') updateHead();
  } catch (e) { /* the scrubber is a help, not needed */ }
}

// Fills the search / similar view that reset() just started from one request.
async function showResults(request, failPrefix, context) {
  const gen = state.gen;
  $('spinner').hidden = false;
  state.searchLoading = true;
  let res = null, error = null;
  try { res = await request; } catch (e) { error = e; }
  if (gen !== state.gen) return null;
  $('spinner').hidden = true;
  state.searchLoading = false;
  state.done = true;
  if (!error) { renderAppend(res.items); return res; }
  // Never the server's English: the Chinese text for the error's code.
  const noModel = error.status === 503 && !state.health?.model;
  const msg = noModel ? NEEDS_MODEL : failPrefix + errorText(error, context);
  state.emptyError = true;
  $('empty-text').textContent = msg;
  updateHead();
  if (error.code !== 'network') toast(msg, true);
  return null;
}

const searchOpts = (r, offset) => ({
  limit: SEARCH_PAGE, offset, mode: state.settings.enhanced_search ? 'hybrid' : 'clip',
  date_from: r.from || undefined, date_to: r.to || undefined, folder: r.folder || undefined,
});

async function runSearch(r) {
  if (typeof r === 'string') r = { name: 'search', q: r.trim() };
  if (!r.q) return showAll();
  reset('search');
  document.dispatchEvent(new CustomEvent('sa:view', { detail: { filter: {}, view: 'search' } }));  // organise.js
  state.query = r.q;
  state.searchRoute = r;
  $('search-input').value = r.q;
  setFilterInputs(r);
  const mode = state.settings.enhanced_search ? 'hybrid' : 'clip';
  $('section-title').textContent = `“${r.q}” 的搜索结果`;
  const res = await showResults(api.search(r.q, searchOpts(r, 0)), '搜索失败：', 'search');
  if (res) { state.searchMore = res.items.length === SEARCH_PAGE && SEARCH_PAGE < SEARCH_MAX; updateHead(); }
  return mode;
}

// 加载更多: the next page of the same search (offset), up to 1000 results.
async function searchMore() {
  const r = state.searchRoute;
  if (!r || state.view !== 'search' || state.searchLoading) return;
  const gen = state.gen;
  const offset = state.items.length;
  state.searchLoading = true;
  updateHead();
  let res;
  try { res = await api.search(r.q, searchOpts(r, offset)); } catch (e) {
    if (gen === state.gen) { state.searchLoading = false; updateHead(); toastError(e, 'search'); }
    return;
  }
  if (gen !== state.gen) return;
  state.searchLoading = false;
  const shown = new Set(state.items.map((p) => p.id));
  renderAppend(res.items.filter((p) => !shown.has(p.id)));
  state.searchMore = res.items.length === SEARCH_PAGE && offset + 2 * SEARCH_PAGE <= SEARCH_MAX;
  updateHead();
}

async function runSimilar(photo) {
  closeModal('detail', { silent: true });
  reset('similar');
  document.dispatchEvent(new CustomEvent('sa:view', { detail: { filter: {}, view: 'similar' } }));  // organise.js
  state.similarTo = photo.id;
  $('section-title').textContent = photo.filename ? `与 “${photo.filename}” 相似的照片` : '相似的照片';
  $('search-input').value = '';
  if (!photo.filename) {
    api.photo(photo.id).then((p) => {
      if (state.view === 'similar' && state.similarTo === p.id) $('section-title').textContent = `与 “${p.filename}” 相似的照片`;
    }).catch(() => {});
  }
  return showResults(api.similar(photo.id, 60), '查找相似照片失败：', 'similar');
}

// ---------- detail ----------
function openModal(id, initialFocus) {
  const wasHidden = $(id).hidden;
  $(id).hidden = false;
  document.body.style.overflow = 'hidden';
  if (wasHidden) (traps[id] ||= new FocusTrap($(id))).activate(initialFocus);
}
// Closing the viewer also leaves its URL: Back when this page pushed it,
// otherwise the list's URL replaces it (silent: the caller changes the URL).
function closeModal(id, { silent = false } = {}) {
  if ($(id).hidden) return;
  $(id).hidden = true;
  if ($('detail').hidden && $('settings').hidden) document.body.style.overflow = '';
  traps[id]?.release();
  if (id !== 'detail') return;
  stopAnalyzePoll();
  viewer?.stop();
  $('detail').querySelector('.detail-card').classList.remove('info-open');
  if (silent || state.route?.name !== 'photo') return;
  if (state.viewerPushed) { state.viewerPushed = false; history.back(); }
  else go(state.base, { replace: true });
}

// Shows items[index] (or a photo outside the list, index -1) in the viewer.
async function openDetail(index, photo = null) {
  const hit = photo || state.items[index];
  if (!hit) return;
  state.current = photo ? -1 : index;
  state.shownId = hit.id;
  renderDetail(hit, hit, true);
  openModal('detail', $('detail-close'));
  // Preload the neighbours' previews: the next swipe shows them at once.
  for (const n of [state.items[index + 1], state.items[index - 1]]) {
    if (!photo && n) { const im = new Image(); im.src = n.preview_url || `/api/photos/${n.id}/preview`; }
  }
  try {
    const p = await api.photo(hit.id);
    if (state.shownId === hit.id && !$('detail').hidden) renderDetail(p, hit);
    if (p.vlm_status === 'pending' || p.vlm_status === 'running') startAnalyzePoll(hit.id, hit);
  } catch (e) { toastError(e, 'photo'); }
}

// Viewer navigation: the URL follows without new history entries, so Back
// leaves the viewer instead of stepping through every photo seen.
function step(delta) {
  const i = state.current + delta;
  if (state.current < 0 || i < 0 || i >= state.items.length) return;
  go({ name: 'photo', id: state.items[i].id }, { replace: true });
  if (i >= state.items.length - 3 && state.view === 'all') loadMore();
}

const currentPhoto = () => (state.current >= 0 ? state.items[state.current] : state.standalone);

async function deleteCurrent() {
  const hit = currentPhoto();
  if (!hit) return;
  try {
    await api.remove(hit.id);  // to the trash (回收站), restorable for 30 days
    closeModal('detail');
    toast('已移到回收站，30 天内可恢复');
    const el = $('grid').querySelector(`.card[data-id="${hit.id}"]`);
    if (el) el.remove();
    const at = state.items.findIndex((x) => x.id === hit.id);
    if (at >= 0) state.items.splice(at, 1);
    if (state.view === 'all') { state.total = Math.max(0, state.total - 1); groups().prune(); }
    reindex();
    updateHead();
  } catch (e) { toastError(e, 'delete'); }
}

// ---------- jobs ----------
// The top bar counts photos while a batch of uploads is being processed (the
// upload panel's own bar when that is open); other background work (an import,
// 全部分析) is counted in tasks (项), never mixed with photos.
let jobsTimer = null, lastBusy = false, jobsBase = null;
async function pollJobs() {
  clearTimeout(jobsTimer);
  let busy = false;
  try {
    const open = uploader ? uploader.openIds() : [];  // before asking: see Uploader.processing
    const j = await api.jobs();
    const left = j.pending + j.running;
    busy = left > 0;
    if (busy && jobsBase === null) jobsBase = j.done + j.failed;
    if (!busy) jobsBase = null;
    await uploader?.processing(busy, open);
    // While the upload panel is open it is the one progress bar on screen.
    $('jobs').hidden = !busy || !$('upload-panel').hidden;
    if (busy) {
      const batch = uploader ? uploader.processedCount() : { done: 0, total: 0 };
      let done, total;
      if (batch.total > batch.done) {
        ({ done, total } = batch);
        $('jobs-label').textContent = `正在处理刚上传的照片（生成搜索向量 / 描述）：${done} / ${total} 张`;
      } else {
        done = Math.max(0, j.done + j.failed - jobsBase);
        total = done + left;
        $('jobs-label').textContent = `后台处理中（生成搜索向量 / 描述）：还剩 ${left} 项任务`;
      }
      $('jobs-bar').style.width = `${total ? Math.round(100 * done / total) : 0}%`;
    }
    const f = $('jobs-failures');
    f.hidden = !(busy && j.failed > 0);
    f.textContent = `${j.failed} 个失败`;
    f.title = (j.recent_failures || []).map((x) => `#${x.photo_id}：${errorText(x)}`).join('\n');
    if (lastBusy && !busy && state.view === 'all') refreshStates();
  } catch (e) { /* server restarting: the connection banner says so; try again later */ }
  lastBusy = busy;
  jobsTimer = setTimeout(pollJobs, busy ? 1500 : 8000);
}

// After jobs finish, refresh badges of the cards already shown.
async function refreshStates() {
  const gen = state.gen;
  if (!state.items.length) return;
  try {
    const first = state.items[0];
    const res = state.topDone
      ? await api.timelinePage({ limit: Math.max(PER_PAGE, Math.min(500, state.items.length)) })
      : await api.timelinePage({ cursor: `${first.taken_at}|${first.id + 1}`, limit: Math.min(500, state.items.length) });
    if (gen !== state.gen) return;
    const byId = new Map(res.items.map((p) => [p.id, p]));
    $('grid').querySelectorAll('.card').forEach((el) => {
      const p = byId.get(+el.dataset.id);
      if (!p) return;
      state.items[+el.dataset.index] = p;
      el.replaceWith(card(p, +el.dataset.index));
    });
  } catch (e) { /* ignore */ }
}

// ---------- routes ----------
// The URL says what is on screen; every view change goes through it, so Back,
// Forward, reload and a copied link all land on the same view.
async function applyRoute() {
  const r = parseHash();
  const prev = state.route;
  state.route = r;
  if (r.name === 'photo') {
    if (prev) {
      // Remember the view behind the photo in this history entry, so that a
      // reload (or Back into it later) shows the photo over the same view.
      history.replaceState({ ...(history.state || {}), base: hashFor(state.base) }, '');
    } else {
      // Reloaded, or opened from a link: the view it was opened from, else the timeline.
      const saved = history.state && history.state.base ? parseHash(history.state.base) : null;
      showBase(saved && saved.name !== 'photo' ? saved : { name: 'all' });
    }
    const at = state.items.findIndex((p) => p.id === r.id);
    if (at >= 0) return openDetail(at);
    try {
      const p = await api.photo(r.id);
      if (state.route !== r) return;
      state.standalone = p;
      const i = state.items.findIndex((x) => x.id === r.id);
      return i >= 0 ? openDetail(i) : openDetail(-1, p);
    } catch (e) {
      toastError(e, 'photo');
      if (state.route === r) go(state.base, { replace: true });
      return;
    }
  }
  state.viewerPushed = false;
  closeModal('detail', { silent: true });
  if (sameRoute(r, state.base) && prev && prev.name === 'photo' && (state.items.length || state.done)) return;
  return showBase(r);
}

// Shows a view that is not a photo (the gallery, a search, an organise view).
function showBase(r) {
  state.base = r;
  if (r.name === 'search') return runSearch(r);
  if (r.name === 'similar') return runSimilar({ id: r.id });
  if (r.name === 'favorites') return showFiltered({ title: '收藏', filter: { favorite: 1 } });
  if (r.name === 'album') return showAlbum(r);
  if (r.name !== 'all') {  // 相册, 回收站, 重复照片: organise.js draws them over the gallery
    reset('org');
    $('search-input').value = '';
    return document.dispatchEvent(new CustomEvent('sa:org-view', { detail: r }));
  }
  return showAll(r.month);
}

// One album's photos (#/album/ID); an album that is gone (or not shared with
// this user) says so and leaves for the album list.
async function showAlbum(r) {
  showFiltered({ title: '相册', filter: { album: r.id } });
  try {
    const a = await api.album(r.id);
    // Still the view shown (a photo opened over it keeps it as the base).
    if (state.base === r) $('section-title').textContent = `相册：${a.name}`;
  } catch (e) {
    if (state.route !== r) return;
    toastError(e, 'album');
    go({ name: 'albums' }, { replace: true });
  }
}

function setFilterInputs(r) {
  $('filter-from').value = r.from || '';
  $('filter-to').value = r.to || '';
  const sel = $('filter-folder');
  sel.dataset.want = r.folder || '';
  if (r.folder && ![...sel.options].some((o) => o.value === r.folder)) sel.add(new Option(r.folder, r.folder));
  sel.value = r.folder || '';
  const n = ['from', 'to', 'folder'].filter((k) => r[k]).length;
  if (n) showFilters(true);
  $('filter-btn').classList.toggle('active', n > 0);
  $('filter-btn').setAttribute('aria-label', n ? `筛选（已设 ${n} 项）` : '筛选');
}

async function loadFolders() {
  try {
    const list = await api.folders();
    const sel = $('filter-folder');
    const keep = sel.value || sel.dataset.want || '';
    sel.length = 1;
    for (const f of list) sel.add(new Option(`${f.folder}（${f.count}）`, f.folder));
    if (keep && !list.some((f) => f.folder === keep)) sel.add(new Option(keep, keep));
    sel.value = keep;
  } catch (e) { /* the filter still works without the list */ }
}

function showFilters(open) {
  const row = $('filters-row');
  const was = !row.hidden;
  row.hidden = !open;
  row.dataset.open = open ? '1' : '';
  $('filter-btn').setAttribute('aria-expanded', String(open));
  if (open && !was) loadFolders();
}

// ---------- wiring ----------
function init() {
  connection = new Connection($('conn-banner'));
  hooks.onNetworkError = () => connection.lost();
  connection.onBack(() => {
    loadHealth();
    if (state.failed) retryLoad();
    pollJobs();
  });
  scrubber = new Scrubber($('scrubber'), (month) => go({ name: 'all', month }));
  viewer = new Viewer({
    stage: $('detail').querySelector('.detail-image'),
    onPrev: () => step(-1),
    onNext: () => step(1),
    onTap: () => $('detail').querySelector('.detail-card').classList.toggle('info-open'),
  });
  initDetail({ state, viewer, onQueued: pollJobs });
  initSettings({ state, onSearchChanged: () => { if (state.view === 'search') runSearch(state.searchRoute); } });

  let uploadedNew = 0;
  uploader = new Uploader({
    onFileDone: async (u) => {
      if (u.duplicate) return;
      uploadedNew++;
      try { insertLive(await api.photo(u.id)); } catch (e) { /* it shows on the next load */ }
      pollJobs();
    },
    onFinished: (s) => {
      // Red only when nothing got into the album (a duplicate is already there).
      toast(`上传结束：${Uploader.summaryText(s)}`, (s.bad + s.failed) > 0 && s.ok + s.dup === 0);
      loadHealth();
      if (uploadedNew) { loadTimeline(); loadFolders(); }
      uploadedNew = 0;
    },
  });

  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('search-input').value.trim();
    if (!q) return go({ name: 'all' });
    const r = { name: 'search', q, from: $('filter-from').value, to: $('filter-to').value, folder: $('filter-folder').value };
    if (r.from && r.to && r.from > r.to) { toast('开始日期不能晚于结束日期', true); return; }
    if (new TextEncoder().encode(q).length > 1000) { toast('搜索内容太长了，请精简到 300 个汉字以内', true); return; }
    if (!go(r)) runSearch(r);  // the same search again: run it anyway
  });
  $('search-input').addEventListener('search', () => { if (!$('search-input').value) go({ name: 'all' }); });
  $('filter-btn').addEventListener('click', () => {
    const open = $('filters-row').hidden;
    showFilters(open);
    if (open) $('filter-from').focus();
  });
  $('filter-clear').addEventListener('click', () => {
    setFilterInputs({});
    if (state.view === 'search') $('search-form').requestSubmit();
  });
  $('back-btn').addEventListener('click', () => go({ name: 'all' }));
  $('more-btn').addEventListener('click', searchMore);
  $('retry-btn').addEventListener('click', retryLoad);
  $('brand').addEventListener('click', (e) => { e.preventDefault(); if (!go({ name: 'all' })) showAll(); });

  const menu = $('upload-menu');
  $('upload-btn').addEventListener('click', (e) => { e.stopPropagation(); menu.hidden = !menu.hidden; });
  document.addEventListener('click', () => { menu.hidden = true; });
  let uploadAlbum = 0;  // 上传到相册 (organise.js): the album the next chosen files go to
  $('pick-folder').addEventListener('click', () => { uploadAlbum = 0; $('folder-input').click(); });
  $('pick-files').addEventListener('click', () => { uploadAlbum = 0; $('files-input').click(); });
  document.addEventListener('sa:upload-to-album', (e) => {
    uploadAlbum = e.detail.albumId;
    $(e.detail.kind === 'folder' ? 'folder-input' : 'files-input').click();
  });
  for (const id of ['folder-input', 'files-input']) {
    $(id).addEventListener('change', (e) => {
      uploader.upload(filesFromInput(e.target), { albumId: uploadAlbum });
      uploadAlbum = 0;
      e.target.value = '';
      $('jobs').hidden = true;
    });
  }

  let dragDepth = 0;
  window.addEventListener('dragenter', (e) => { if ([...e.dataTransfer.types].includes('Files')) { dragDepth++; $('drop-overlay').hidden = false; } });
  window.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; $('drop-overlay').hidden = true; } });
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', async (e) => {
    e.preventDefault();
    dragDepth = 0;
    $('drop-overlay').hidden = true;
    try { uploader.upload(await filesFromDrop(e.dataTransfer)); } catch (err) { toast('无法读取拖入的文件，请改用「上传」按钮选择', true); }
  });

  $('grid').addEventListener('click', (e) => {
    const c = e.target.closest('.card');
    if (!c) return;
    state.viewerPushed = go({ name: 'photo', id: +c.dataset.id });
  });
  document.querySelectorAll('[data-close]').forEach((el) =>
    el.addEventListener('click', () => closeModal(el.closest('.modal').id)));
  $('detail-prev').addEventListener('click', () => step(-1));
  $('detail-next').addEventListener('click', () => step(1));
  $('info-btn').addEventListener('click', () => $('detail').querySelector('.detail-card').classList.toggle('info-open'));
  $('analyze-btn').addEventListener('click', () => analyze(currentPhoto()));
  $('delete-btn').addEventListener('click', deleteCurrent);
  $('similar-btn').addEventListener('click', () => {
    const p = currentPhoto();
    if (!p) return;
    closeModal('detail', { silent: true });
    go({ name: 'similar', id: p.id }, { replace: state.route?.name === 'photo' && !state.viewerPushed });
  });
  document.addEventListener('keydown', (e) => {
    if (!$('detail').hidden) {
      if (e.key === 'Escape') closeModal('detail');
      else if (e.key === 'ArrowLeft') step(-1);
      else if (e.key === 'ArrowRight') step(1);
    } else if (!$('settings').hidden && e.key === 'Escape') closeModal('settings');
  });

  $('settings-btn').addEventListener('click', async () => {
    await Promise.all([loadHealth(), loadSettings()]);
    openModal('settings');
  });
  $('set-auto-analyze').addEventListener('change', (e) => saveSetting('auto_analyze', e.target.checked));
  $('set-enhanced').addEventListener('change', (e) => saveSetting('enhanced_search', e.target.checked));
  $('set-min-score').addEventListener('change', (e) => saveSetting('min_score', +e.target.value));

  // An entry may be stale by the time it is delivered (a page rendered in
  // between pushed the sentinel away): look again before loading.
  new IntersectionObserver((entries) => { if (entries.some((x) => x.isIntersecting) && isVisible($('sentinel'))) loadMore(); },
                           { rootMargin: '400px' }).observe($('sentinel'));
  new IntersectionObserver((entries) => {
    if (entries.some((x) => x.isIntersecting) && $('top-sentinel').getBoundingClientRect().bottom > -200) loadNewer();
  }, { rootMargin: '200px' }).observe($('top-sentinel'));
  window.addEventListener('hashchange', applyRoute);

  // organise.js asks for views and reloads after batch actions.
  document.addEventListener('sa:show', (e) => (e.detail && e.detail.filter ? showFiltered(e.detail) : showAll()));
  document.addEventListener('sa:reload', () => {
    if (state.view === 'search') runSearch(state.query);
    else if (state.view === 'all') { const t = $('section-title').textContent; showFiltered({ title: t, filter: state.filter }); if (!Object.keys(state.filter).length) $('back-btn').hidden = true; }
  });

  loadHealth();
  loadSettings();
  initPrecision();
  fitPlaceholder($('search-input'));
  applyRoute();
  pollJobs();
}

signIn().then(init);
