// 智能相册 page: gallery (infinite scroll), search, detail view, settings, job progress.
import { api } from './api.js';
import { Uploader, filesFromDrop, filesFromInput } from './upload.js';

const $ = (id) => document.getElementById(id);
const PER_PAGE = 60;

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
};

// ---------- helpers ----------
function toast(msg, isError = false) {
  const t = document.createElement('div');
  t.className = 'toast' + (isError ? ' error' : '');
  t.textContent = msg;
  $('toasts').appendChild(t);
  setTimeout(() => t.remove(), isError ? 5000 : 2500);
}
const fmtBytes = (n) => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
const pad2 = (n) => String(n).padStart(2, '0');
// Server timestamps (added_at) carry a zone ("…Z", "+08:00") and are shown in the
// browser's local time; EXIF taken_at has none and is shown as the camera wrote it.
function fmtDate(iso) {
  if (!iso) return '';
  if (/[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})$/i.test(iso)) {
    const d = new Date(iso);
    if (!Number.isNaN(d.getTime())) {
      return `${d.getFullYear()}年${d.getMonth() + 1}月${d.getDate()}日 ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    }
  }
  const m = iso.match(/^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/);
  return m ? `${m[1]}年${+m[2]}月${+m[3]}日${m[4] ? ` ${m[4]}:${m[5]}` : ''}` : iso;
}
const fmtScore = (s) => (typeof s === 'number' ? s.toFixed(3) : '');
const VLM_STATE = { none: '尚未分析', pending: '排队中…', running: '分析中…', done: '已完成', failed: '分析失败' };
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
  if (typeof p.score === 'number') {
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
  const frag = document.createDocumentFragment();
  const start = state.items.length;
  state.items.push(...newItems);
  newItems.forEach((p, i) => frag.appendChild(card(p, start + i)));
  grid.appendChild(frag);
  updateHead();
  // An open detail view's › follows the list as it grows behind it.
  if (!$('detail').hidden) $('detail-next').hidden = state.current >= state.items.length - 1;
}

// New uploads (ids above the newest shown) go on top of the gallery without
// a reload, so a reader scrolled far down keeps their place.
async function prependNewest() {
  if (!state.items.length || state.failed) return showAll();
  const gen = state.gen;
  const newest = state.items.length ? state.items[0].id : 0;
  let res;
  try { res = await api.photos({ perPage: PER_PAGE }); } catch (e) { return; }
  if (gen !== state.gen) return;
  const fresh = res.items.filter((p) => p.id > newest);
  // More new photos than one page: the gap cannot be filled from here.
  if (fresh.length === res.items.length) return showAll();
  state.total = res.total;
  if (!fresh.length) return updateHead();
  state.items.unshift(...fresh);
  const frag = document.createDocumentFragment();
  fresh.forEach((p, i) => frag.appendChild(card(p, i)));
  const grid = $('grid');
  const keep = window.scrollY, before = grid.scrollHeight;
  grid.prepend(frag);
  [...grid.children].forEach((c, i) => { c.dataset.index = i; });
  if (keep > 0) window.scrollTo(0, keep + grid.scrollHeight - before);
  if (state.current >= 0) state.current += fresh.length;
  updateHead();
}

function updateHead() {
  const n = state.view === 'all' ? state.total : state.items.length;
  $('section-count').textContent = n ? `${n} 张` : '';
  const empty = state.items.length === 0 && state.done;
  $('empty').hidden = !empty;
  if (empty) {
    $('empty-text').textContent = state.view === 'all'
      ? '还没有照片。点击右上角「上传」选择一个文件夹，或把照片拖到这里。'
      : '没有找到匹配的照片，换个描述试试。';
  }
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
  $('grid').textContent = '';
  $('empty').hidden = true;
  $('load-error').hidden = true;
  $('spinner').hidden = true;
  $('back-btn').hidden = view === 'all';
}

async function loadMore() {
  if (state.loading || state.done || state.failed || state.view !== 'all') return;
  const gen = state.gen;
  state.loading = true;
  $('spinner').hidden = false;
  // A cursor (the oldest photo shown), not a page number: photos deleted or
  // uploaded meanwhile do not shift what the next page holds.
  const last = state.items[state.items.length - 1];
  let res = null, error = null;
  try {
    res = await api.photos({ before: last ? last.id : undefined, perPage: PER_PAGE, ...state.filter });
  } catch (e) { error = e; }
  if (gen !== state.gen) return;
  state.loading = false;
  $('spinner').hidden = true;
  if (error) {
    state.failed = true;
    $('load-error-text').textContent = '照片列表加载失败：' + error.message;
    $('load-error').hidden = false;
  } else {
    state.total = res.total;
    const shown = new Set(state.items.map((p) => p.id));
    renderAppend(res.items.filter((p) => !shown.has(p.id)));
    state.done = res.items.length < PER_PAGE || state.items.length >= res.total;
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

function showAll() {
  $('search-input').value = '';
  $('section-title').textContent = '全部照片';
  reset('all');
  state.filter = {};
  document.dispatchEvent(new CustomEvent('sa:view', { detail: { filter: {} } }));
  loadMore();
}

// A filtered gallery (favourites, one album) asked for by organise.js.
function showFiltered({ title, filter }) {
  $('search-input').value = '';
  $('section-title').textContent = title;
  reset('all');
  state.filter = filter;
  $('back-btn').hidden = false;
  document.dispatchEvent(new CustomEvent('sa:view', { detail: { filter } }));
  loadMore();
}

// Fills the search / similar view that reset() just started from one request.
async function showResults(request, failPrefix) {
  const gen = state.gen;
  $('spinner').hidden = false;
  let res = null, error = null;
  try { res = await request; } catch (e) { error = e; }
  if (gen !== state.gen) return;
  $('spinner').hidden = true;
  state.done = true;
  if (!error) return renderAppend(res.items);
  updateHead();
  // 503 without a model loaded: say what to do, not the server's English.
  const noModel = error.status === 503 && !state.health?.model;
  const msg = noModel ? NEEDS_MODEL : failPrefix + error.message;
  $('empty-text').textContent = msg;
  toast(msg, true);
}

function runSearch(query) {
  query = query.trim();
  if (!query) return showAll();
  reset('search');
  state.query = query;
  const mode = state.settings.enhanced_search ? 'hybrid' : 'clip';
  $('section-title').textContent = `“${query}” 的搜索结果`;
  return showResults(api.search(query, { limit: 100, mode }), '搜索失败：');
}

function runSimilar(photo) {
  closeModal('detail');
  reset('similar');
  state.similarTo = photo.id;
  $('section-title').textContent = `与 “${photo.filename}” 相似的照片`;
  $('search-input').value = '';
  return showResults(api.similar(photo.id, 60), '查找相似照片失败：');
}

// ---------- detail ----------
function openModal(id) { $(id).hidden = false; document.body.style.overflow = 'hidden'; }
function closeModal(id) {
  $(id).hidden = true;
  if ($('detail').hidden && $('settings').hidden) document.body.style.overflow = '';
  if (id === 'detail') stopAnalyzePoll();
}

function metaRows(dl, rows) {
  dl.textContent = '';
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === '') continue;
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    dl.append(dt, dd);
  }
}

function renderDetail(p, hit) {
  $('detail-name').textContent = p.filename;
  const img = $('detail-img');
  img.src = p.original_url;
  img.alt = p.filename;
  $('original-link').href = p.original_url;
  const rows = [
    ['文件夹', p.folder || '（根目录）'],
    ['拍摄时间', fmtDate(p.taken_at) || '未知'],
    ['相机', p.camera],
    ['尺寸', p.width && p.height ? `${p.width} × ${p.height}` : ''],
    ['大小', p.size ? fmtBytes(p.size) : ''],
    ['添加时间', fmtDate(p.added_at)],
  ];
  if (hit && typeof hit.score === 'number') {
    rows.push(['相似度', fmtScore(hit.score)]);
    if (typeof hit.desc_score === 'number') rows.push(['描述相似度', fmtScore(hit.desc_score)]);
    if (typeof hit.keyword_score === 'number') rows.push(['关键词匹配', fmtScore(hit.keyword_score)]);
  }
  if (p.status === 'failed') rows.push(['处理失败', p.error]);
  if (p.vlm_status === 'failed') rows.push(['分析失败原因', p.vlm_error || '未知']);
  metaRows($('detail-meta'), rows);
  const desc = $('detail-desc');
  desc.textContent = p.description || '暂无描述。';
  desc.classList.toggle('none', !p.description);
  const kw = $('detail-keywords');
  kw.textContent = '';
  for (const k of p.keywords || []) {
    const c = document.createElement('button');
    c.type = 'button';
    c.className = 'chip';
    c.textContent = k;
    c.title = `搜索 “${k}”`;
    c.onclick = () => { closeModal('detail'); $('search-input').value = k; runSearch(k); };
    kw.appendChild(c);
  }
  renderAnalyzeState(p);
  // organise.js: heart, visible text, why a search hit matched.
  document.dispatchEvent(new CustomEvent('sa:detail', { detail: { ...p, matched: hit && hit.matched } }));
  $('detail-prev').hidden = state.current <= 0;
  $('detail-next').hidden = state.current >= state.items.length - 1;
}

function renderAnalyzeState(p) {
  const btn = $('analyze-btn'), st = $('analyze-state');
  const vlm = state.health && state.health.vlm;
  const busy = p.vlm_status === 'pending' || p.vlm_status === 'running';
  btn.textContent = p.description ? '重新分析' : '分析图片';
  btn.disabled = !vlm || busy;
  btn.title = vlm ? '' : '未配置视觉大模型（设置 QWEN_API_KEY 或 --vlm-base-url）';
  st.textContent = vlm ? (VLM_STATE[p.vlm_status] || '') : '未配置视觉大模型';
  const failed = p.vlm_status === 'failed';
  st.classList.toggle('failed', failed);
  st.title = failed ? p.vlm_error || '' : '';
}

async function openDetail(index) {
  const hit = state.items[index];
  if (!hit) return;
  state.current = index;
  renderDetail(hit, hit);
  openModal('detail');
  try {
    const p = await api.photo(hit.id);
    if (state.items[state.current]?.id === hit.id) renderDetail(p, hit);
    if (p.vlm_status === 'pending' || p.vlm_status === 'running') startAnalyzePoll(hit.id, hit);
  } catch (e) { toast(e.message, true); }
}

let analyzePoll = null;
function stopAnalyzePoll() { clearInterval(analyzePoll); analyzePoll = null; }
function startAnalyzePoll(id, hit) {
  stopAnalyzePoll();
  analyzePoll = setInterval(async () => {
    try {
      const p = await api.photo(id);
      if ($('detail').hidden || state.items[state.current]?.id !== id) return stopAnalyzePoll();
      renderDetail(p, hit);
      if (p.vlm_status !== 'pending' && p.vlm_status !== 'running') stopAnalyzePoll();
    } catch (e) { stopAnalyzePoll(); }
  }, 1500);
}

async function analyzeCurrent() {
  const hit = state.items[state.current];
  if (!hit) return;
  $('analyze-btn').disabled = true;
  $('analyze-state').textContent = '排队中…';
  try {
    await api.analyze(hit.id);
    startAnalyzePoll(hit.id, hit);
    pollJobs();
  } catch (e) {
    $('analyze-state').textContent = e.message;
    $('analyze-state').classList.add('failed');
    $('analyze-btn').disabled = false;
  }
}

async function deleteCurrent() {
  const hit = state.items[state.current];
  if (!hit) return;
  try {
    await api.remove(hit.id);  // to the trash (回收站), restorable for 30 days
    closeModal('detail');
    toast('已移到回收站，30 天内可恢复');
    const el = $('grid').querySelector(`.card[data-id="${hit.id}"]`);
    if (el) el.remove();
    const at = state.items.findIndex((x) => x.id === hit.id);
    if (at >= 0) state.items.splice(at, 1);
    if (state.view === 'all') state.total = Math.max(0, state.total - 1);
    [...$('grid').children].forEach((c, i) => { c.dataset.index = i; });
    updateHead();
  } catch (e) { toast(e.message, true); }
}

// ---------- settings + health ----------
function showSettings() {
  $('set-auto-analyze').checked = state.settings.auto_analyze;
  $('set-enhanced').checked = state.settings.enhanced_search;
  $('mode-chip').hidden = !state.settings.enhanced_search;
}

let settingsSeq = 0;  // a reply older than the latest save must not undo it
async function loadSettings() {
  const seq = ++settingsSeq;
  try {
    const s = await api.settings();
    if (seq !== settingsSeq) return;
    state.settings = s;
    showSettings();
  } catch (e) { toast(e.message, true); }
}

async function saveSetting(key, value) {
  const status = $('settings-status');
  const seq = ++settingsSeq;
  try {
    const s = await api.saveSettings({ [key]: value });
    if (seq === settingsSeq) { state.settings = s; showSettings(); }
    status.textContent = '已保存';
    status.style.color = '';
    if (key === 'enhanced_search' && state.view === 'search') runSearch(state.query);
  } catch (e) {
    status.textContent = '保存失败：' + e.message;
    status.style.color = 'var(--danger)';
    loadSettings();
  }
  setTimeout(() => { status.textContent = ''; }, 2000);
}

async function loadHealth() {
  try {
    const h = await api.health();
    state.health = h;
    $('model-banner').hidden = !!h.model;
    metaRows($('system-info'), [
      ['版本', h.version],
      ['图像模型', h.model || '未加载（无法搜索）'],
      ['文本模型', h.text_model || '未加载（增强搜索仅用关键词）'],
      ['视觉大模型', h.vlm ? '已配置' : '未配置'],
      ['照片数量', String(h.photos)],
    ]);
  } catch (e) { toast(e.message, true); }
}

// ---------- jobs ----------
let jobsTimer = null, lastBusy = false, jobsBase = null;
async function pollJobs() {
  clearTimeout(jobsTimer);
  let busy = false;
  try {
    const j = await api.jobs();
    const open = j.pending + j.running;
    busy = open > 0;
    if (busy && jobsBase === null) jobsBase = j.done + j.failed;
    const done = jobsBase === null ? 0 : Math.max(0, j.done + j.failed - jobsBase);
    const total = done + open;
    $('jobs').hidden = !busy;
    if (busy) {
      $('jobs-label').textContent = `正在处理照片（生成向量 / 描述）：${done} / ${total}`;
      $('jobs-bar').style.width = `${total ? Math.round(100 * done / total) : 0}%`;
    }
    const f = $('jobs-failures');
    f.hidden = !(busy && j.failed > 0);
    f.textContent = `${j.failed} 个失败`;
    f.title = (j.recent_failures || []).map((x) => `#${x.photo_id} ${x.kind}: ${x.error}`).join('\n');
    if (!busy) jobsBase = null;
    if (lastBusy && !busy && state.view === 'all') refreshStates();
  } catch (e) { /* server restarting: try again later */ }
  lastBusy = busy;
  jobsTimer = setTimeout(pollJobs, busy ? 1500 : 8000);
}

// After jobs finish, refresh badges of the cards already shown.
async function refreshStates() {
  const gen = state.gen;
  try {
    const res = await api.photos({ page: 1, perPage: Math.max(PER_PAGE, Math.min(500, state.items.length)) });
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

// ---------- wiring ----------
function init() {
  const uploader = new Uploader({
    onChunkDone: () => pollJobs(),
    onFinished: (s) => {
      // Red only when nothing got into the album (a duplicate is already there).
      toast(`上传完成：已上传 ${s.ok}，重复 ${s.dup}，被拒绝 ${s.bad}`, s.bad > 0 && s.ok + s.dup === 0);
      loadHealth();
      if (state.view === 'all') prependNewest();
    },
  });

  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); runSearch($('search-input').value); });
  $('search-input').addEventListener('search', () => { if (!$('search-input').value) showAll(); });
  $('back-btn').addEventListener('click', showAll);
  $('retry-btn').addEventListener('click', retryLoad);
  $('brand').addEventListener('click', (e) => { e.preventDefault(); showAll(); });

  const menu = $('upload-menu');
  $('upload-btn').addEventListener('click', (e) => { e.stopPropagation(); menu.hidden = !menu.hidden; });
  document.addEventListener('click', () => { menu.hidden = true; });
  $('pick-folder').addEventListener('click', () => $('folder-input').click());
  $('pick-files').addEventListener('click', () => $('files-input').click());
  for (const id of ['folder-input', 'files-input']) {
    $(id).addEventListener('change', (e) => { uploader.upload(filesFromInput(e.target)); e.target.value = ''; });
  }

  let dragDepth = 0;
  window.addEventListener('dragenter', (e) => { if ([...e.dataTransfer.types].includes('Files')) { dragDepth++; $('drop-overlay').hidden = false; } });
  window.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; $('drop-overlay').hidden = true; } });
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', async (e) => {
    e.preventDefault();
    dragDepth = 0;
    $('drop-overlay').hidden = true;
    try { uploader.upload(await filesFromDrop(e.dataTransfer)); } catch (err) { toast('无法读取拖入的文件：' + err.message, true); }
  });

  $('grid').addEventListener('click', (e) => {
    const c = e.target.closest('.card');
    if (c) openDetail(+c.dataset.index);
  });
  document.querySelectorAll('[data-close]').forEach((el) =>
    el.addEventListener('click', () => closeModal(el.closest('.modal').id)));
  $('detail-prev').addEventListener('click', () => openDetail(state.current - 1));
  $('detail-next').addEventListener('click', () => openDetail(state.current + 1));
  $('analyze-btn').addEventListener('click', analyzeCurrent);
  $('delete-btn').addEventListener('click', deleteCurrent);
  $('similar-btn').addEventListener('click', () => { const p = state.items[state.current]; if (p) runSimilar(p); });
  document.addEventListener('keydown', (e) => {
    if (!$('detail').hidden) {
      if (e.key === 'Escape') closeModal('detail');
      else if (e.key === 'ArrowLeft' && state.current > 0) openDetail(state.current - 1);
      else if (e.key === 'ArrowRight' && state.current < state.items.length - 1) openDetail(state.current + 1);
    } else if (!$('settings').hidden && e.key === 'Escape') closeModal('settings');
  });

  $('settings-btn').addEventListener('click', async () => {
    await Promise.all([loadHealth(), loadSettings()]);
    openModal('settings');
  });
  $('set-auto-analyze').addEventListener('change', (e) => saveSetting('auto_analyze', e.target.checked));
  $('set-enhanced').addEventListener('change', (e) => saveSetting('enhanced_search', e.target.checked));

  new IntersectionObserver((entries) => { if (entries.some((x) => x.isIntersecting)) loadMore(); },
                           { rootMargin: '400px' }).observe($('sentinel'));

  // organise.js asks for views and reloads after batch actions.
  document.addEventListener('sa:show', (e) => (e.detail && e.detail.filter ? showFiltered(e.detail) : showAll()));
  document.addEventListener('sa:reload', () => {
    if (state.view === 'search') runSearch(state.query);
    else if (state.view === 'all') { const t = $('section-title').textContent; showFiltered({ title: t, filter: state.filter }); if (!Object.keys(state.filter).length) $('back-btn').hidden = true; }
  });

  loadHealth();
  loadSettings();
  showAll();
  pollJobs();
}

init();
