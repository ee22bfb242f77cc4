// The photo viewer's info pane (a browse view beside viewer.js's image stage):
// name, facts (拍摄时间 with its source, 相机, 尺寸 …), a search hit's relevance
// in words (numbers with ?debug=1), description and keywords, and 分析图片 with
// its state, polled while a description is queued or running. app.js owns the
// list and the viewer and hands them over once (initDetail).
import { api } from './api.js';
import { errorText } from './errors.js';
import { go } from './router.js';

const $ = (id) => document.getElementById(id);
export const debugScores = /[?&]debug=1/.test(location.search);
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
export const fmtScore = (s) => (typeof s === 'number' ? s.toFixed(3) : '');
const TAKEN_SOURCE = { file: '（文件修改时间）', upload: '（上传时间）' };
const VLM_STATE = { none: '尚未分析', pending: '排队中…', running: '分析中…', done: '已完成', failed: '分析失败' };

// state: app.js's (current, items, health, shownId); viewer: the image stage;
// onQueued(): a description was queued (app.js polls the job queue).
let ctx = null;
export function initDetail({ state, viewer, onQueued }) { ctx = { state, viewer, onQueued }; }

export function metaRows(dl, rows) {
  dl.textContent = '';
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === '') continue;
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    dl.append(dt, dd);
  }
}

export function renderDetail(p, hit, fresh = false) {
  $('detail-name').textContent = p.filename;
  if (fresh) ctx.viewer.show(p);
  $('original-link').href = p.original_url;
  const rows = [
    ['文件夹', p.folder || '（根目录）'],
    // The camera's own clock (as the day headers), not converted to this browser's zone.
    ['拍摄时间', (fmtDate((p.taken_at || '').slice(0, 19)) || '未知') + (TAKEN_SOURCE[p.taken_at_source] || '')],
    ['相机', p.camera],
    ['尺寸', p.width && p.height ? `${p.width} × ${p.height}` : ''],
    ['大小', p.size ? fmtBytes(p.size) : ''],
    ['添加时间', fmtDate(p.added_at)],
  ];
  if (hit && typeof hit.score === 'number') {
    // Relevance in words; the numbers only with ?debug=1.
    rows.push(['相关度', hit.score >= 0.7 ? '很高' : hit.score >= 0.4 ? '较高' : hit.score > 0 ? '一般' : '较低']);
    if (debugScores) {
      rows.push(['相似度', fmtScore(hit.score)]);
      if (typeof hit.desc_score === 'number') rows.push(['描述相似度', fmtScore(hit.desc_score)]);
      if (typeof hit.keyword_score === 'number') rows.push(['关键词匹配', fmtScore(hit.keyword_score)]);
    }
  }
  // The codes' Chinese, never the stored (English) error text.
  if (p.status === 'failed') rows.push(['处理失败', errorText({ code: 'processing_failed' })]);
  if (p.vlm_status === 'failed') rows.push(['分析失败原因', errorText({ code: p.vlm_error_code || 'vlm_failed' })]);
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
    c.onclick = () => go({ name: 'search', q: k });
    kw.appendChild(c);
  }
  renderAnalyzeState(p);
  // organise.js: heart, visible text, why a search hit matched.
  document.dispatchEvent(new CustomEvent('sa:detail', { detail: { ...p, matched: hit && hit.matched } }));
  const { current, items } = ctx.state;
  $('detail-prev').hidden = current <= 0;
  $('detail-next').hidden = current < 0 || current >= items.length - 1;
}

function renderAnalyzeState(p) {
  const btn = $('analyze-btn'), st = $('analyze-state');
  const vlm = ctx.state.health && ctx.state.health.vlm;
  const busy = p.vlm_status === 'pending' || p.vlm_status === 'running';
  btn.textContent = p.description ? '重新分析' : '分析图片';
  btn.disabled = !vlm || busy;
  btn.title = vlm ? '' : '未配置视觉大模型（设置 QWEN_API_KEY 或 --vlm-base-url）';
  st.textContent = vlm ? (VLM_STATE[p.vlm_status] || '') : '未配置视觉大模型';
  const failed = p.vlm_status === 'failed';
  st.classList.toggle('failed', failed);
  st.title = failed ? errorText({ code: p.vlm_error_code || 'vlm_failed' }) : '';
}

let analyzePoll = null;
export function stopAnalyzePoll() { clearInterval(analyzePoll); analyzePoll = null; }
export function startAnalyzePoll(id, hit) {
  stopAnalyzePoll();
  analyzePoll = setInterval(async () => {
    try {
      const p = await api.photo(id);
      if ($('detail').hidden || ctx.state.shownId !== id) return stopAnalyzePoll();
      renderDetail(p, hit);
      if (p.vlm_status !== 'pending' && p.vlm_status !== 'running') stopAnalyzePoll();
    } catch (e) { stopAnalyzePoll(); }
  }, 1500);
}

// 分析图片 for the photo shown (hit: its list entry, or the photo itself).
export async function analyze(hit) {
  if (!hit) return;
  $('analyze-btn').disabled = true;
  $('analyze-state').textContent = '排队中…';
  try {
    await api.analyze(hit.id);
    startAnalyzePoll(hit.id, hit);
    ctx.onQueued();
  } catch (e) {
    $('analyze-state').textContent = errorText(e, 'analyze');
    $('analyze-state').classList.add('failed');
    $('analyze-btn').disabled = false;
  }
}
