// Folder / file upload: collects files (picker or drag & drop, folders walked
// recursively) and sends them one file per request, a few at a time, so each
// photo appears in the album as soon as it is stored. One progress bar counts
// photos, uploaded and processed; 取消 stops what is left; 重试失败的文件 sends again the files that
// failed for a reason a retry can fix (connection lost, server restarting).
import { api, uploadChunk } from './api.js';
import { errorText } from './errors.js';

const PARALLEL = 3;    // files in flight at once
const MAX_ROWS = 400;  // per-file rows kept in the DOM; failures are always shown
const STATE_CHUNK = 500;  // photo ids per /api/photos/states request (the server takes up to 1000)

const $ = (id) => document.getElementById(id);

// Files from a drop: DataTransferItem entries, directories walked recursively.
export async function filesFromDrop(dataTransfer) {
  const entries = [];
  for (const item of dataTransfer.items || []) {
    const e = item.webkitGetAsEntry && item.webkitGetAsEntry();
    if (e) entries.push(e);
  }
  if (!entries.length) return [...(dataTransfer.files || [])].map((f) => ({ file: f, name: f.name }));
  const out = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, name: prefix + file.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const child of batch) await walk(child, prefix + entry.name + '/');
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

export function filesFromInput(input) {
  return [...input.files].map((f) => ({ file: f, name: f.webkitRelativePath || f.name }));
}

const isHidden = (name) => name.split('/').some((p) => p.startsWith('.'));
// Failures worth another try: the connection, the server's own trouble, a cancel.
const retryable = (code) => ['network', 'cancelled', 'internal', 'io_error', 'unavailable', 'timeout'].includes(code)
  || /^http_5/.test(code || '');

export class Uploader {
  // onFileDone({id, duplicate, filename}) after each stored file;
  // onFinished(stats) when a batch ends (also after a cancel).
  constructor({ onFileDone, onFinished }) {
    this.onFileDone = onFileDone;
    this.onFinished = onFinished;
    this.busy = false;
    this.items = [];
    this.pending = [];
    this.inflight = new Set();
    this.cancelled = false;
    // The new photos of this batch: id -> true once the server has processed it
    // (search vector made, description written when one was asked for).
    this.processed = new Map();
    this.sawProcessing = false;
    this.checking = false;
    // The one bar: uploaded photos (light) with the processed ones (solid) over it.
    const bar = $('upload-bar');
    bar.classList.add('uploaded');
    this.doneBar = document.createElement('div');
    this.doneBar.className = 'progress-bar processed';
    this.doneBar.id = 'upload-bar-processed';
    bar.parentElement.appendChild(this.doneBar);
    $('upload-close').addEventListener('click', () => { if (!this.busy) $('upload-panel').hidden = true; });
    $('upload-cancel').addEventListener('click', () => this.cancel());
    $('upload-retry').addEventListener('click', () => this.retryFailed());
  }

  // albumId: also put every stored file in that album (上传到相册).
  upload(items, { albumId = 0 } = {}) {
    items = items.filter((it) => !isHidden(it.name));
    if (!items.length) return;
    if (!this.busy) {
      this.items = [];
      this.processed = new Map();
      this.sawProcessing = false;
      $('upload-list').textContent = '';
    }
    for (const it of items) {
      it.index = this.items.length;
      it.state = 'waiting';
      it.albumId = albumId;
      this.items.push(it);
      it.row = it.index < MAX_ROWS ? this.row(it) : null;
      if (it.row) $('upload-list').appendChild(it.row);
      this.pending.push(it);
    }
    $('upload-panel').hidden = false;
    this.start();
  }

  start() {
    this.cancelled = false;
    if (!this.busy) {
      this.busy = true;
      $('upload-cancel').hidden = false;
      $('upload-retry').hidden = true;
    }
    this.render();
    while (this.inflight.size < PARALLEL && this.pending.length) this.send(this.pending.shift());
  }

  async send(it) {
    this.inflight.add(it);
    this.setState(it, 'sending', '上传中');
    const req = uploadChunk([it], (loaded, total) => this.setProgress(it, total ? loaded / total : 1), it.albumId);
    it.abort = req.abort;
    try {
      const res = await req.done;
      const u = (res.uploaded || [])[0];
      const r = (res.rejected || [])[0];
      if (u) {
        this.setState(it, u.duplicate ? 'dup' : 'ok', u.duplicate ? '重复' : '已上传');
        if (!u.duplicate) this.processed.set(u.id, false);
        if (this.onFileDone) this.onFileDone(u);
      } else {
        this.fail(it, 'bad', '被拒绝', r ? r.code || 'invalid_argument' : 'http');
      }
    } catch (e) {
      this.fail(it, e.code === 'cancelled' ? 'cancelled' : 'failed', e.code === 'cancelled' ? '已取消' : '失败', e.code);
    }
    this.inflight.delete(it);
    if (!this.cancelled && this.pending.length) this.send(this.pending.shift());
    this.render();
    if (!this.inflight.size && !this.pending.length) this.finish();
  }

  fail(it, state, text, code) {
    it.code = code;
    this.setState(it, state, text, errorText({ code }, 'upload'));
  }

  cancel() {
    if (!this.busy) return;
    this.cancelled = true;
    for (const it of this.pending) this.fail(it, 'cancelled', '已取消', 'cancelled');
    this.pending = [];
    for (const it of this.inflight) if (it.abort) it.abort();
    this.render();
    if (!this.inflight.size) this.finish();
  }

  retryFailed() {
    if (this.busy) return;
    const again = this.items.filter((it) => (it.state === 'failed' || it.state === 'cancelled' ||
      (it.state === 'bad' && retryable(it.code))));
    if (!again.length) return;
    for (const it of again) {
      it.state = 'waiting';
      if (it.row) { it.row.querySelector('.reason')?.remove(); }
      this.setState(it, 'waiting', '等待中');
      this.pending.push(it);
    }
    this.start();
  }

  finish() {
    this.busy = false;
    $('upload-cancel').hidden = true;
    const s = this.stats();
    $('upload-retry').hidden = !this.items.some((it) => it.state === 'failed' || it.state === 'cancelled' ||
      (it.state === 'bad' && retryable(it.code)));
    this.render();
    if (this.onFinished) this.onFinished(s);
  }

  stats() {
    const s = { total: this.items.length, ok: 0, dup: 0, bad: 0, failed: 0, cancelled: 0, reasons: {} };
    for (const it of this.items) {
      if (it.state === 'ok') s.ok++;
      else if (it.state === 'dup') s.dup++;
      else if (it.state === 'bad') { s.bad++; const t = errorText({ code: it.code }, 'upload'); s.reasons[t] = (s.reasons[t] || 0) + 1; }
      else if (it.state === 'failed') s.failed++;
      else if (it.state === 'cancelled') s.cancelled++;
    }
    return s;
  }

  // Summary line in Chinese: what is new, already there, refused (and why), failed.
  static summaryText(s) {
    const parts = [`新增 ${s.ok} 张`, `重复 ${s.dup} 张`];
    if (s.bad) parts.push(`被拒绝 ${s.bad} 个`);
    if (s.failed) parts.push(`失败 ${s.failed} 个`);
    if (s.cancelled) parts.push(`已取消 ${s.cancelled} 个`);
    return parts.join('，');
  }

  // The batch's photos the server has not finished yet (ids), for the job poll
  // to take before it asks /api/jobs.
  openIds() { return [...this.processed].filter(([, done]) => !done).map(([id]) => id); }

  // After a job poll: queueBusy is whether any job is open; open = openIds()
  // taken before that poll. An idle queue has finished every photo it held
  // then; a busy one is asked about exactly our open photos, however many
  // (STATE_CHUNK ids a request), counted as photos, never as jobs (a photo
  // may have two: its vector and its description). A photo deleted meanwhile
  // (missing) needs nothing more: it counts as processed.
  async processing(queueBusy, open) {
    if (!open.length) return;
    if (!queueBusy) {
      for (const id of open) this.processed.set(id, true);
      return this.render();
    }
    this.sawProcessing = true;
    if (this.checking) return;
    this.checking = true;
    try {
      for (let i = 0; i < open.length; i += STATE_CHUNK) {
        const chunk = open.slice(i, i + STATE_CHUNK);
        const res = await api.photoStates(chunk);
        const still = new Set(res.pending || []);
        for (const id of chunk) if (!still.has(id)) this.processed.set(id, true);
      }
    } catch (e) { /* the next poll asks again */ }
    this.checking = false;
    this.render();
  }

  // {done, total} of the batch's new photos, for the top bar once the panel is closed.
  processedCount() {
    let done = 0;
    for (const d of this.processed.values()) if (d) done++;
    return { done, total: this.processed.size };
  }

  render() {
    const s = this.stats();
    const done = s.ok + s.dup + s.bad + s.failed + s.cancelled;
    // A duplicate was processed when it first came; a new photo once no job is open for it.
    const stored = s.ok + s.dup;
    const processed = s.dup + this.processedCount().done;
    this.doneBar.style.width = `${s.total ? Math.round(100 * processed / s.total) : 0}%`;
    $('upload-processing').textContent = this.sawProcessing && stored
      ? (processed < stored ? `已处理 ${processed} / ${stored} 张（正在生成搜索向量 / 描述）` : `已处理 ${stored} / ${stored} 张`)
      : '';
    $('upload-title').textContent = this.busy ? `正在上传：${done} / ${s.total} 张`
      : (s.failed || s.cancelled ? '上传未全部完成' : '上传完成');
    $('upload-bar').style.width = `${s.total ? Math.round(100 * done / s.total) : 0}%`;
    const meter = $('upload-bar').parentElement;
    meter.setAttribute('aria-valuenow', String(done));
    meter.setAttribute('aria-valuemax', String(s.total));
    meter.setAttribute('aria-valuetext', `已上传 ${stored} / ${s.total} 张，已处理 ${processed} 张`);
    const el = $('upload-summary');
    el.textContent = '';
    // A count of 0 is grey: red only when something was refused.
    const add = (cls, text, n = 1) => { const sp = document.createElement('span'); sp.className = n ? cls : 'zero'; sp.textContent = text; el.appendChild(sp); };
    add('', `${done} / ${s.total}`);
    add('ok', `已上传 ${s.ok}`, s.ok);
    add('dup', `重复 ${s.dup}`, s.dup);
    add('bad', `被拒绝 ${s.bad}`, s.bad);
    if (s.failed) add('bad', `失败 ${s.failed}`);
    if (s.cancelled) add('dup', `已取消 ${s.cancelled}`);
    for (const [reason, n] of Object.entries(s.reasons)) add('reason-sum', `${reason}：${n} 个`);
  }

  row(it) {
    const li = document.createElement('li');
    li.className = 'waiting';
    li.innerHTML = '<span class="name"></span><span class="state">等待中</span><div class="progress"><div class="progress-bar"></div></div>';
    li.querySelector('.name').textContent = it.name;
    li.querySelector('.name').title = it.name;
    return li;
  }

  setProgress(it, frac) {
    const bar = it.row?.querySelector('.progress-bar');
    if (bar) bar.style.width = `${Math.round(frac * 100)}%`;
  }

  setState(it, cls, text, reason) {
    it.state = cls;
    let li = it.row;
    if (!li && reason) {  // beyond MAX_ROWS: still show every failure
      li = it.row = this.row(it);
      $('upload-list').prepend(li);
    }
    if (!li) return;
    li.className = cls;
    li.querySelector('.state').textContent = text;
    if (cls === 'waiting' && !li.querySelector('.progress')) {
      li.insertAdjacentHTML('beforeend', '<div class="progress"><div class="progress-bar"></div></div>');
    }
    if (cls !== 'sending' && cls !== 'waiting') li.querySelector('.progress')?.remove();
    if (reason) {
      li.querySelector('.reason')?.remove();
      const r = document.createElement('span');
      r.className = 'reason';
      r.textContent = reason;
      li.appendChild(r);
    }
  }
}
