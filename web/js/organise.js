// Organising photos: multi-select (checkbox, long-press, shift-click ranges,
// a whole day) with batch actions (收藏, 加入相册, 下载 ZIP, 删除 / 恢复), the
// views 收藏, 相册, 重复照片 and 回收站, and the heart in the grid and viewer.
// app.js keeps the gallery; this module talks to it through DOM events:
//   sa:show {title, filter} / sa:show {}  -> app.js shows a filtered gallery / all photos
//   sa:reload                             -> app.js reloads the current view
//   sa:view {filter, view?}               <- app.js started a gallery view (view: 'search' | 'similar')
//   sa:detail photo                       <- app.js shows a photo in the viewer
//   sa:org-view {name}                    <- app.js's route is #/albums, #/trash or #/duplicates
// The nav and the album covers change the URL (router.js); app.js then asks.
import { api } from './api.js';
import { errorText } from './errors.js';
import { go } from './router.js';
import { toast } from './toast.js';

const $ = (id) => document.getElementById(id);
const LONG_PRESS_MS = 450;

// An API error as a toast: the Chinese for its code (never the server's
// English message); a lost connection shows as the connection banner instead.
function fail(e, prefix = '操作失败：') {
  if (e && e.code === 'network') return;
  toast(prefix + errorText(e), true);
}
const fmtBytes = (n) => n < 1048576 ? `${(n / 1024).toFixed(0)} KB` : `${(n / 1048576).toFixed(1)} MB`;
const fmtDay = (iso) => {
  const m = (iso || '').match(/^(\d{4})-(\d{2})-(\d{2})/);
  return m ? `${m[1]}年${+m[2]}月${+m[3]}日` : '';
};
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---------- selection over a grid of .card[data-id] ----------
class Selection {
  constructor(grid, onChange) {
    this.grid = grid;
    this.ids = new Set();
    this.anchor = null;      // the card a shift-click range starts from
    this.onChange = onChange;
    this.suppressClick = false;
    // Capture phase: runs before app.js's click handler on the grid, so a
    // click in selection mode selects instead of opening the viewer.
    grid.addEventListener('click', (e) => this.click(e), true);
    let timer = null;
    grid.addEventListener('pointerdown', (e) => {
      const c = e.target.closest('.card');
      if (!c || e.pointerType === 'mouse') return;
      timer = setTimeout(() => { this.suppressClick = true; this.toggle(c, false); }, LONG_PRESS_MS);
    });
    for (const ev of ['pointerup', 'pointercancel', 'pointermove', 'pointerleave']) {
      grid.addEventListener(ev, (e) => { if (ev !== 'pointermove' || e.movementX || e.movementY) clearTimeout(timer); });
    }
    grid.addEventListener('contextmenu', (e) => { if (e.target.closest('.card') && this.suppressClick) e.preventDefault(); });
    new MutationObserver(() => this.decorate()).observe(grid, { childList: true });
    this.decorate();
  }
  cards() { return [...this.grid.querySelectorAll('.card')]; }
  // Adds the checkbox and the heart to new cards and marks selected ones.
  decorate() {
    for (const c of this.cards()) {
      if (!c.querySelector('.sel')) {
        const box = el('span', 'sel');
        box.setAttribute('role', 'checkbox');
        box.title = '选择';
        c.appendChild(box);
      }
      if (c.dataset.favorite && !c.querySelector('.heart')) {
        const h = el('span', 'heart', '♥');
        h.title = '已收藏';
        c.appendChild(h);
      }
      const on = this.ids.has(+c.dataset.id);
      c.classList.toggle('selected', on);
      c.querySelector('.sel').setAttribute('aria-checked', String(on));
    }
    this.grid.classList.toggle('selecting', this.ids.size > 0);
  }
  click(e) {
    const c = e.target.closest('.card');
    if (!c) return;
    if (this.suppressClick) {  // the click that ends a long press
      this.suppressClick = false;
      e.preventDefault(); e.stopPropagation();
      return;
    }
    const onBox = !!e.target.closest('.sel');
    if (!onBox && this.ids.size === 0 && !e.shiftKey) return;  // app.js opens the viewer
    e.preventDefault(); e.stopPropagation();
    this.toggle(c, e.shiftKey);
  }
  toggle(card, range) {
    const id = +card.dataset.id;
    if (range && this.anchor && this.grid.contains(this.anchor)) {
      const cards = this.cards();
      const a = cards.indexOf(this.anchor), b = cards.indexOf(card);
      const [lo, hi] = a < b ? [a, b] : [b, a];
      for (let i = lo; i <= hi; i++) this.ids.add(+cards[i].dataset.id);
    } else if (this.ids.has(id)) {
      this.ids.delete(id);
    } else {
      this.ids.add(id);
    }
    this.anchor = card;
    this.changed();
  }
  // Every loaded photo of the same day as the last one picked.
  selectDay() {
    const day = this.anchor && this.anchor.dataset.day;
    if (!day) return;
    for (const c of this.cards()) if (c.dataset.day === day) this.ids.add(+c.dataset.id);
    this.changed();
  }
  clear() { this.ids.clear(); this.anchor = null; this.changed(); }
  changed() { this.decorate(); this.onChange(this); }
}

// ---------- the selection bar ----------
let active = null;  // the Selection the bar acts on
function showBar(sel, actions) {
  active = sel;
  const n = sel.ids.size;
  $('select-bar').hidden = n === 0;
  document.body.classList.toggle('has-selection', n > 0);
  if (!n) return;
  $('select-count').textContent = `已选 ${n} 张`;
  const box = $('select-actions');
  box.textContent = '';
  for (const [label, fn, cls] of actions) {
    const b = el('button', 'btn' + (cls ? ' ' + cls : ''), label);
    b.type = 'button';
    b.dataset.action = label;
    b.addEventListener('click', fn);
    box.appendChild(b);
  }
}

async function runBatch(action, ids, albumId, done) {
  try {
    await api.batch(action, ids, albumId);
    done();
  } catch (e) {
    fail(e, e.status === 404 ? '部分照片已不存在，未做任何更改：' : '操作失败：');
  }
}

// A form POST: the browser streams the ZIP straight to a download.
function downloadZip(ids) {
  const f = el('form');
  f.method = 'POST';
  f.action = '/api/photos/download';
  f.hidden = true;
  const i = el('input');
  i.name = 'ids';
  i.value = ids.join(',');
  f.appendChild(i);
  document.body.appendChild(f);
  f.submit();
  f.remove();
  toast(`正在打包下载 ${ids.length} 张照片`);
}

// ---------- gallery (app.js grid) ----------
let galleryFilter = {};
const gallerySel = new Selection($('grid'), (sel) => showBar(sel, galleryActions(sel)));
function galleryActions(sel) {
  const ids = () => [...sel.ids];
  const after = (msg) => () => { toast(msg); sel.clear(); document.dispatchEvent(new Event('sa:reload')); };
  const acts = [
    ['选择当天', () => sel.selectDay()],
    ['收藏', () => runBatch('favorite', ids(), undefined, after('已收藏'))],
    ['取消收藏', () => runBatch('unfavorite', ids(), undefined, after('已取消收藏'))],
    ['加入相册', () => pickAlbum(ids(), () => { toast('已加入相册'); sel.clear(); })],
  ];
  if (galleryFilter.album) {
    acts.push(['移出相册', () => runBatch('remove_from_album', ids(), galleryFilter.album, after('已移出相册'))]);
  }
  acts.push(['下载 ZIP', () => downloadZip(ids())]);
  acts.push(['删除', () => runBatch('trash', ids(), undefined, after(`已将 ${sel.ids.size} 张照片移到回收站`)), 'btn-danger']);
  return acts;
}
$('select-cancel').addEventListener('click', () => active && active.clear());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && active && active.ids.size && $('detail').hidden && $('album-picker').hidden) active.clear();
});

// ---------- album picker ----------
// One picker for 加入相册 (the selection) and 上传到相册 (the upload menu):
// onChosen(albumId) runs with the album clicked or the one just made.
let pickerChosen = null;
async function openAlbumPicker({ title, createLabel, upload }, onChosen) {
  pickerChosen = onChosen;
  $('album-picker-title').textContent = title;
  $('new-album-submit').textContent = createLabel;
  $('album-upload-kind').hidden = !upload;
  const list = $('album-choices');
  list.textContent = '';
  try {
    const { items } = await api.albums();
    if (!items.length) list.appendChild(el('li', 'muted', '还没有相册，在下面新建一个。'));
    for (const a of items) {
      const li = el('li');
      const b = el('button', 'btn album-choice', `${a.name}（${a.photo_count} 张）`);
      b.type = 'button';
      b.addEventListener('click', () => pickerChosen(a.id));
      li.appendChild(b);
      list.appendChild(li);
    }
  } catch (e) { fail(e); }
  $('album-picker').hidden = false;
  $('new-album-name').value = '';
}
function pickAlbum(ids, done) {
  openAlbumPicker({ title: '加入相册', createLabel: '新建并加入' }, (albumId) =>
    runBatch('add_to_album', ids, albumId, () => { $('album-picker').hidden = true; done(); }));
}
$('new-album-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('new-album-name').value.trim();
  if (!name) return toast('请输入相册名称', true);
  try {
    const a = await api.createAlbum(name);
    await pickerChosen(a.id);
  } catch (err) { fail(err, '新建相册失败：'); }
});
// 上传到相册: app.js opens the file (or folder) chooser and uploads with ?album=ID,
// so every stored file, new or already in the library, lands in the album.
$('pick-album').addEventListener('click', () => openAlbumPicker({ title: '上传到相册', createLabel: '新建并上传', upload: true },
  (albumId) => {
    $('album-picker').hidden = true;
    const kind = document.querySelector('input[name="album-upload-kind"]:checked').value;
    document.dispatchEvent(new CustomEvent('sa:upload-to-album', { detail: { albumId, kind } }));
  }));

// ---------- heart in the viewer ----------
let detailPhoto = null;
document.addEventListener('sa:detail', (e) => {
  detailPhoto = e.detail;
  const b = $('fav-btn');
  b.hidden = !!detailPhoto.trashed_at;
  b.setAttribute('aria-pressed', String(!!detailPhoto.favorite));
  b.textContent = detailPhoto.favorite ? '♥ 已收藏' : '♡ 收藏';
  b.classList.toggle('on', !!detailPhoto.favorite);
});
// Visible text (图中文字) and, for an enhanced-search hit, what matched (为什么匹配),
// highlighted in the description and the text.
function marked(text, words) {
  const frag = document.createDocumentFragment();
  const ws = (words || []).filter(Boolean).sort((x, y) => y.length - x.length);
  if (!ws.length) { frag.append(text); return frag; }
  const esc = ws.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  let last = 0;
  for (const m of text.matchAll(new RegExp(esc.join('|'), 'gi'))) {
    frag.append(text.slice(last, m.index), el('mark', '', m[0]));
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}
function renderTextAndWhy(p) {
  let block = $('detail-text-block');
  if (!block) {
    block = el('div', 'desc-block text-block');
    block.id = 'detail-text-block';
    block.append(el('h3', '', '图中文字'), el('p', 'desc photo-text'), el('p', 'why'));
    block.querySelector('.photo-text').id = 'detail-text';
    block.querySelector('.why').id = 'detail-why';
    document.querySelector('#detail .desc-block').after(block);
  }
  const m = p.matched || null;
  const text = p.text || '';
  $('detail-text').textContent = '';
  $('detail-text').append(text ? marked(text, m && m.text) : '没有识别到文字。');
  $('detail-text').classList.toggle('none', !text);
  if (m && p.description) {
    const d = $('detail-desc');
    d.textContent = '';
    d.append(marked(p.description, m.description));
  }
  const why = [];
  if (m && m.keywords.length) why.push('关键词 ' + m.keywords.join('、'));
  if (m && m.description.length) why.push('描述中的 ' + m.description.join('、'));
  if (m && m.text.length) why.push('图中文字 ' + m.text.join('、'));
  $('detail-why').textContent = why.length ? '匹配原因：' + why.join('；') : '';
  $('detail-why').hidden = !why.length;
}
document.addEventListener('sa:detail', (e) => renderTextAndWhy(e.detail));

$('fav-btn').addEventListener('click', async () => {
  if (!detailPhoto) return;
  try {
    const p = await api.setFavorite(detailPhoto.id, !detailPhoto.favorite);
    document.dispatchEvent(new CustomEvent('sa:detail', { detail: { ...p, matched: detailPhoto.matched } }));
    const card = $('grid').querySelector(`.card[data-id="${p.id}"]`);
    if (card) {
      if (p.favorite) card.dataset.favorite = '1';
      else { delete card.dataset.favorite; card.querySelector('.heart')?.remove(); }
      gallerySel.decorate();
    }
  } catch (err) { fail(err); }
});

// ---------- views ----------
const orgView = $('org-view');
const main = document.querySelector('main.content');
function setNav(name) {
  document.querySelectorAll('#org-nav [data-nav]').forEach((b) => b.classList.toggle('active', b.dataset.nav === name));
}
function showOrgView(name) {
  gallerySel.clear();
  setNav(name);
  main.hidden = true;
  orgView.hidden = false;
  orgView.textContent = '';
  orgView.dataset.view = name;
}
document.addEventListener('sa:view', (e) => {
  galleryFilter = e.detail.filter || {};
  main.hidden = false;
  orgView.hidden = true;
  gallerySel.clear();
  // Search results and similar photos are none of the nav's views.
  setNav(e.detail.view ? '' : galleryFilter.favorite ? 'favorites' : galleryFilter.album ? 'albums' : 'all');
});
function head(title, count) {
  const h = el('div', 'section-head');
  h.appendChild(el('h1', '', title));
  if (count !== undefined) h.appendChild(el('span', 'count', count ? `${count} 张` : ''));
  orgView.appendChild(h);
  return h;
}
function thumbCard(p) {
  const c = el('button', 'card');
  c.type = 'button';
  c.dataset.id = p.id;
  c.dataset.day = (p.taken_at || p.added_at || '').slice(0, 10);
  const img = el('img');
  img.loading = 'lazy';
  img.alt = p.filename;
  img.src = p.thumbnail_url;
  c.appendChild(img);
  return c;
}

// 相册
async function showAlbums() {
  showOrgView('albums');
  const h = head('相册');
  const form = el('form', 'new-album inline');
  const input = el('input');
  input.placeholder = '新相册名称';
  input.setAttribute('aria-label', '新相册名称');
  input.id = 'album-name-input';
  const b = el('button', 'btn btn-primary', '新建相册');
  b.type = 'submit';
  form.append(input, b);
  h.appendChild(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) return toast('请输入相册名称', true);
    try { await api.createAlbum(name); toast('相册已创建'); showAlbums(); } catch (err) { fail(err, '新建相册失败：'); }
  });
  const grid = el('div', 'album-grid');
  orgView.appendChild(grid);
  let items = [];
  try { ({ items } = await api.albums()); } catch (e) { return fail(e); }
  if (!items.length) grid.appendChild(el('p', 'muted', '还没有相册。选中照片后点「加入相册」，或在上面新建一个。'));
  for (const a of items) {
    const card = el('div', 'album-card');
    card.dataset.id = a.id;
    const open = el('button', 'album-cover');
    open.type = 'button';
    open.title = `打开相册 “${a.name}”`;
    if (a.cover_url) { const img = el('img'); img.src = a.cover_url; img.alt = ''; open.appendChild(img); }
    open.addEventListener('click', () => go({ name: 'album', id: a.id }));
    const name = el('div', 'album-name', a.name);
    const meta = el('div', 'album-meta', `${a.photo_count} 张`);
    const tools = el('div', 'album-tools');
    const ren = el('button', 'btn btn-ghost', '重命名');
    ren.type = 'button';
    ren.addEventListener('click', async () => {
      const n = prompt('新的相册名称', a.name);
      if (!n || !n.trim()) return;
      try { await api.updateAlbum(a.id, { name: n.trim() }); showAlbums(); } catch (err) { fail(err); }
    });
    const del = el('button', 'btn btn-ghost danger', '删除相册');
    del.type = 'button';
    del.addEventListener('click', async () => {
      if (!confirm(`删除相册 “${a.name}”？相册里的照片不会被删除。`)) return;
      try { await api.deleteAlbum(a.id); toast('相册已删除'); showAlbums(); } catch (err) { fail(err); }
    });
    // share.js: the owner shares the album; a recipient may leave it.
    const share = el('button', 'btn btn-ghost album-share', a.role && a.role !== 'owner' ? '退出共享' : '共享');
    share.type = 'button';
    share.addEventListener('click', () => document.dispatchEvent(new CustomEvent('sa:share', { detail: a })));
    if (a.role && a.role !== 'owner') {
      meta.textContent += ` · ${a.owner || ''} 共享（${a.role === 'viewer' ? '只读' : '可添加照片'}）`;
      tools.append(share);
    } else {
      tools.append(ren, del, share);
    }
    card.append(open, name, meta, tools);
    grid.appendChild(card);
  }
}

document.addEventListener('sa:albums-changed', () => showAlbums());

// 回收站
async function showTrash() {
  showOrgView('trash');
  const h = head('回收站');
  const empty = el('button', 'btn btn-danger', '清空回收站');
  empty.type = 'button';
  empty.id = 'empty-trash';
  h.appendChild(empty);
  orgView.appendChild(el('p', 'muted', '照片在回收站保留 30 天，之后连同文件一起永久删除。'));
  const grid = el('div', 'grid');
  grid.id = 'trash-grid';
  orgView.appendChild(grid);
  const sel = new Selection(grid, (s) => showBar(s, [
    ['恢复', () => runBatch('restore', [...s.ids], undefined, () => { toast('已恢复'); showTrash(); })],
  ]));
  // In the trash every click selects (there is no viewer here).
  grid.addEventListener('click', (e) => {
    const c = e.target.closest('.card');
    if (c && sel.ids.size === 0 && !e.target.closest('.sel')) sel.toggle(c, false);
  });
  empty.addEventListener('click', async () => {
    if (!confirm('永久删除回收站里的所有照片？此操作无法撤销。')) return;
    try { const r = await api.emptyTrash(); toast(`已永久删除 ${r.emptied} 张照片`); showTrash(); } catch (e) { fail(e); }
  });
  let res;
  try { res = await api.trash({ perPage: 500 }); } catch (e) { return fail(e); }
  h.querySelector('h1').textContent = `回收站（${res.total} 张）`;
  empty.disabled = res.total === 0;
  if (!res.items.length) grid.appendChild(el('p', 'muted', '回收站是空的。'));
  const now = Date.now();
  for (const p of res.items) {
    const c = thumbCard(p);
    const left = Math.max(0, 30 - Math.floor((now - new Date(p.trashed_at).getTime()) / 86400000));
    c.appendChild(el('span', 'caption', `${p.filename} · 剩 ${left} 天`));
    grid.appendChild(c);
  }
}

// 重复照片
async function showDuplicates() {
  showOrgView('duplicates');
  const h = head('重复照片');
  const act = el('button', 'btn btn-danger', '将未保留的照片移到回收站');
  act.type = 'button';
  act.id = 'dup-trash';
  h.appendChild(act);
  orgView.appendChild(el('p', 'muted', '按图像相似度分组（连拍、重新压缩、缩放或裁剪的副本）。每组已预选分辨率最高、拍摄最早的一张保留；点击照片切换保留 / 删除。'));
  const list = el('div', 'dup-groups');
  orgView.appendChild(list);
  let res;
  try { res = await api.duplicates(); } catch (e) {
    list.appendChild(el('p', 'muted', e.status === 503 ? '查找重复照片需要图像模型：请用 --model 启动相册。' : '查找失败：' + errorText(e)));
    act.disabled = true;
    return;
  }
  if (!res.groups.length) { list.appendChild(el('p', 'muted', '没有发现重复照片。')); act.disabled = true; return; }
  const keep = new Set();
  for (const g of res.groups) {
    const row = el('section', 'dup-group');
    row.appendChild(el('h3', '', `${g.photos.length} 张相似照片 · 相似度 ≥ ${g.min_similarity.toFixed(2)}`));
    const strip = el('div', 'dup-strip');
    for (const p of g.photos) {
      const c = thumbCard(p);
      c.classList.add('dup');
      const info = el('span', 'caption', `${p.width}×${p.height} · ${fmtBytes(p.size)}${fmtDay(p.taken_at || p.added_at) ? ' · ' + fmtDay(p.taken_at || p.added_at) : ''}`);
      const tag = el('span', 'keep-tag');
      c.append(info, tag);
      const paint = () => {
        const k = keep.has(p.id);
        c.classList.toggle('keep', k);
        c.classList.toggle('drop', !k);
        tag.textContent = k ? '保留' : '删除';
      };
      if (p.id === g.keep) keep.add(p.id);
      paint();
      c.addEventListener('click', () => { if (keep.has(p.id)) keep.delete(p.id); else keep.add(p.id); paint(); });
      strip.appendChild(c);
    }
    row.appendChild(strip);
    list.appendChild(row);
  }
  act.addEventListener('click', async () => {
    const drop = res.groups.flatMap((g) => g.photos.map((p) => p.id)).filter((id) => !keep.has(id));
    if (!drop.length) return toast('没有要删除的照片');
    await runBatch('trash', drop, undefined, () => { toast(`已将 ${drop.length} 张照片移到回收站`); showDuplicates(); });
  });
}

// Each view has its URL (#/, #/favorites, #/albums, #/trash, #/duplicates); a
// click on the view already in the URL draws it again.
function showView(name) {
  if (name === 'all') document.dispatchEvent(new CustomEvent('sa:show', { detail: {} }));
  else if (name === 'favorites') document.dispatchEvent(new CustomEvent('sa:show', { detail: { title: '收藏', filter: { favorite: 1 } } }));
  else if (name === 'albums') showAlbums();
  else if (name === 'trash') showTrash();
  else if (name === 'duplicates') showDuplicates();
}
document.querySelectorAll('#org-nav [data-nav]').forEach((b) => b.addEventListener('click', () => {
  if (!go({ name: b.dataset.nav })) showView(b.dataset.nav);
}));
document.addEventListener('sa:org-view', (e) => showView(e.detail.name));
