// 设置 (auto-analysis, enhanced search, the relevance cut-off) and the server's
// health (model banner, system info). A save's reply older than a later save
// never undoes it.
import { api } from './api.js';
import { errorText } from './errors.js';
import { toastError } from './toast.js';
import { metaRows } from './detail.js';

const $ = (id) => document.getElementById(id);

// state: app.js's (settings, health are kept there for search and the viewer);
// onSearchChanged(): a setting that changes search results was saved.
let ctx = null;
export function initSettings({ state, onSearchChanged }) { ctx = { state, onSearchChanged }; }

function showSettings() {
  $('set-auto-analyze').checked = ctx.state.settings.auto_analyze;
  $('set-enhanced').checked = ctx.state.settings.enhanced_search;
  const ms = ctx.state.settings.min_score;
  if (typeof ms === 'number') {
    const sel = $('set-min-score');
    if (![...sel.options].some((o) => Math.abs(+o.value - ms) < 1e-6)) {
      sel.add(new Option(`自定义（${ms.toFixed(2)}）`, String(ms)));
    }
    sel.value = [...sel.options].find((o) => Math.abs(+o.value - ms) < 1e-6).value;
  }
  $('mode-chip').hidden = !ctx.state.settings.enhanced_search;
}

let settingsSeq = 0;  // a reply older than the latest save must not undo it
export async function loadSettings() {
  const seq = ++settingsSeq;
  try {
    const s = await api.settings();
    if (seq !== settingsSeq) return;
    ctx.state.settings = s;
    showSettings();
  } catch (e) { toastError(e, 'settings'); }
}

export async function saveSetting(key, value) {
  const status = $('settings-status');
  const seq = ++settingsSeq;
  try {
    const s = await api.saveSettings({ [key]: value });
    if (seq === settingsSeq) { ctx.state.settings = s; showSettings(); }
    status.textContent = '已保存';
    status.style.color = '';
    if (key === 'enhanced_search' || key === 'min_score') ctx.onSearchChanged();
  } catch (e) {
    status.textContent = '保存失败：' + errorText(e, 'settings');
    status.style.color = 'var(--danger)';
    loadSettings();
  }
  setTimeout(() => { status.textContent = ''; }, 2000);
}

export async function loadHealth() {
  try {
    const h = await api.health();
    ctx.state.health = h;
    $('model-banner').hidden = !!h.model;
    metaRows($('system-info'), [
      ['版本', h.version],
      ['图像模型', h.model || '未加载（无法搜索）'],
      ['文本模型', h.text_model || '未加载（增强搜索仅用关键词）'],
      ['视觉大模型', h.vlm ? '已配置' : '未配置'],
      ['照片数量', String(h.photos)],
    ]);
  } catch (e) { toastError(e, 'health'); }
}
