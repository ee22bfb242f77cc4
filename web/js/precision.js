// 设置 → 精度: the engine's inference precision (fp32 / int8), saved through
// /api/settings. The model is loaded once when the album starts, so a change
// applies at the next start; /api/health says what runs now (and whether the
// int8 self-check refused the model).
import { api } from './api.js';
import { errorText } from './errors.js';

const $ = (id) => document.getElementById(id);

const ABOUT = 'int8 为照片建立索引约快 3–4 倍，搜索质量几乎不变（与 fp32 的向量余弦相似度 ≥ 0.99）；fp32 为精确结果。';

// 'int8' | 'fp32' | null (no model) from /api/health's precision.model summary.
function runningOf(health) {
  const m = health && health.precision ? health.precision.model : null;
  if (!m) return null;
  return m.startsWith('int8') ? 'int8' : 'fp32';
}

function note(saved, health) {
  const running = runningOf(health);
  if (!running) return ABOUT + '重启后生效。';
  let s = ABOUT + '当前运行：' + running;
  const summary = health.precision.model;
  if (summary.includes('refused')) s += '（此模型的 int8 自检未通过，已自动使用 fp32）';
  if (saved && saved !== running && !summary.includes('refused')) s += '；重启相册服务后改用 ' + saved;
  return s + '。';
}

export function initPrecision() {
  const status = $('settings-status');
  if (!status || $('set-precision')) return;
  const row = document.createElement('label');
  row.className = 'switch-row';
  row.innerHTML =
    '<span><strong>精度</strong><small id="precision-note"></small></span>' +
    '<select id="set-precision" aria-describedby="precision-note">' +
    '<option value="fp32">fp32（精确）</option><option value="int8">int8（更快）</option></select>';
  status.before(row);
  const sel = $('set-precision');
  const small = $('precision-note');
  small.textContent = ABOUT + '重启后生效。';
  let seq = 0;  // a reply older than the latest change must not undo it

  async function refresh() {
    const mine = ++seq;
    try {
      const [s, h] = await Promise.all([api.settings(), api.health()]);
      if (mine !== seq) return;
      sel.value = s.precision || runningOf(h) || 'fp32';
      small.textContent = note(s.precision, h);
    } catch (e) { /* the dialog's other settings report connection errors */ }
  }

  sel.addEventListener('change', async () => {
    ++seq;
    try {
      await api.saveSettings({ precision: sel.value });
      status.textContent = '已保存，重启后生效';
      status.style.color = '';
    } catch (e) {
      status.textContent = '保存失败：' + errorText(e, 'settings');
      status.style.color = 'var(--danger)';
    }
    setTimeout(() => { status.textContent = ''; }, 2500);
    refresh();
  });
  const btn = $('settings-btn');
  if (btn) btn.addEventListener('click', refresh);
  refresh();
}
