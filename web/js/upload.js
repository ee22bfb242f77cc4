// Folder / file upload: collects files (picker or drag & drop, folders walked
// recursively), sends them in chunks with XHR progress, and shows per-file state
// and a summary (已上传 / 重复 / 被拒绝 with reasons).
import { uploadChunk } from './api.js';

const CHUNK_FILES = 8;
const CHUNK_BYTES = 24 * 1024 * 1024;
const PARALLEL = 2;
const MAX_ROWS = 400;  // per-file rows kept in the DOM; failures are always shown

const $ = (id) => document.getElementById(id);

function chunked(items) {
  const out = [];
  let cur = [], bytes = 0;
  for (const it of items) {
    if (cur.length && (cur.length >= CHUNK_FILES || bytes + it.file.size > CHUNK_BYTES)) {
      out.push(cur); cur = []; bytes = 0;
    }
    cur.push(it); bytes += it.file.size;
  }
  if (cur.length) out.push(cur);
  return out;
}

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

export class Uploader {
  constructor({ onChunkDone, onFinished }) {
    this.onChunkDone = onChunkDone;
    this.onFinished = onFinished;
    this.busy = false;
    $('upload-close').addEventListener('click', () => { if (!this.busy) $('upload-panel').hidden = true; });
  }

  async upload(items) {
    items = items.filter((it) => !isHidden(it.name));
    if (!items.length) return;
    if (this.busy) { this.queue = (this.queue || []).concat(items); return; }
    this.busy = true;
    const stats = { ok: 0, dup: 0, bad: 0, total: items.length, bytes: 0, sent: 0 };
    items.forEach((it, i) => { it.index = i; it.loaded = 0; stats.bytes += it.file.size; });
    const panel = $('upload-panel'), list = $('upload-list');
    panel.hidden = false;
    list.textContent = '';
    $('upload-title').textContent = `正在上传 ${items.length} 个文件`;
    const rows = items.map((it, i) => i < MAX_ROWS ? this.row(it) : null);
    rows.forEach((r) => r && list.appendChild(r));
    this.summary(stats);

    const chunks = chunked(items);
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++];
        const chunkBytes = chunk.reduce((s, it) => s + it.file.size, 0) || 1;
        chunk.forEach((it) => this.setState(it, rows, 'sending', '上传中'));
        try {
          const res = await uploadChunk(chunk, (loaded, total) => {
            // The multipart body adds a little framing; spread progress over the files by size.
            let left = loaded * chunkBytes / (total || 1);
            for (const it of chunk) {
              it.loaded = Math.min(it.file.size, left);
              left -= it.file.size;
              this.setProgress(it, rows, it.file.size ? it.loaded / it.file.size : 1);
            }
            this.bar(items, stats);
          });
          // Results name their file by "index" (position in the chunk); names are
          // only a fallback for a server without it (a name may come back changed).
          const byName = new Map();
          chunk.forEach((it) => byName.set(it.name, (byName.get(it.name) || []).concat([it])));
          const answered = new Set();
          const take = (r) => {
            const it = Number.isInteger(r.index) ? chunk[r.index]
              : (byName.get(r.filename) || []).find((x) => !answered.has(x));
            if (!it || answered.has(it)) return null;
            answered.add(it);
            it.loaded = it.file.size;
            return it;
          };
          for (const u of res.uploaded || []) {
            const it = take(u); if (!it) continue;
            if (u.duplicate) { stats.dup++; this.setState(it, rows, 'dup', '重复'); }
            else { stats.ok++; this.setState(it, rows, 'ok', '已上传'); }
          }
          for (const r of res.rejected || []) {
            const it = take(r); if (!it) continue;
            stats.bad++;
            this.setState(it, rows, 'bad', '被拒绝', r.error, list);
          }
          // A file the reply did not mention must not stay "上传中" forever.
          for (const it of chunk) {
            if (answered.has(it)) continue;
            it.loaded = it.file.size;
            stats.bad++;
            this.setState(it, rows, 'bad', '失败', '服务器没有返回这个文件的结果', list);
          }
        } catch (e) {
          for (const it of chunk) {
            it.loaded = it.file.size;
            stats.bad++;
            this.setState(it, rows, 'bad', '失败', e.message, list);
          }
        }
        this.summary(stats);
        this.bar(items, stats);
        if (this.onChunkDone) this.onChunkDone();
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, chunks.length) }, worker));
    $('upload-title').textContent = '上传完成';
    $('upload-bar').style.width = '100%';
    this.busy = false;
    if (this.onFinished) this.onFinished(stats);
    if (this.queue && this.queue.length) { const q = this.queue; this.queue = []; this.upload(q); }
  }

  row(it) {
    const li = document.createElement('li');
    li.innerHTML = '<span class="name"></span><span class="state">等待中</span><div class="progress"><div class="progress-bar"></div></div>';
    li.querySelector('.name').textContent = it.name;
    li.querySelector('.name').title = it.name;
    return li;
  }

  setProgress(it, rows, frac) {
    const li = rows[it.index];
    if (li) li.querySelector('.progress-bar').style.width = `${Math.round(frac * 100)}%`;
  }

  setState(it, rows, cls, text, reason, list) {
    let li = rows[it.index];
    if (!li && cls === 'bad' && list) {  // beyond MAX_ROWS: still show every failure
      li = rows[it.index] = this.row(it);
      list.prepend(li);
    }
    if (!li) return;
    li.className = cls;
    li.querySelector('.state').textContent = text;
    if (cls !== 'sending') li.querySelector('.progress')?.remove();
    if (reason) {
      const r = document.createElement('span');
      r.className = 'reason';
      r.textContent = reason;
      li.appendChild(r);
    }
  }

  bar(items, stats) {
    const loaded = items.reduce((s, it) => s + it.loaded, 0);
    $('upload-bar').style.width = `${Math.round(100 * loaded / (stats.bytes || 1))}%`;
  }

  summary(s) {
    const done = s.ok + s.dup + s.bad;
    $('upload-summary').innerHTML =
      `<span>${done} / ${s.total}</span><span class="ok">已上传 ${s.ok}</span>` +
      `<span class="dup">重复 ${s.dup}</span><span class="bad">被拒绝 ${s.bad}</span>`;
  }
}
