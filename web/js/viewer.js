// The photo viewer's image stage: the thumbnail (already in the browser's
// cache) shows at once, blurred, then the preview (JPEG, long edge <= 2048)
// replaces it when it has loaded -- only if the viewer still shows that photo,
// so a slow preview never lands on the next one. Each photo gets a fresh <img>,
// so the previous photo is never on screen under the new caption.
// Gestures: swipe left/right, pinch and double-tap zoom, pan when zoomed, tap
// to show or hide the info sheet (phones).

const SWIPE_PX = 50;
const DOUBLE_TAP_MS = 300;
const MAX_SCALE = 5;

export class Viewer {
  constructor({ stage, onPrev, onNext, onTap }) {
    this.stage = stage;
    this.onPrev = onPrev;
    this.onNext = onNext;
    this.onTap = onTap;
    this.token = 0;
    this.img = stage.querySelector('img');
    this.pointers = new Map();
    this.scale = 1; this.tx = 0; this.ty = 0;
    this.lastTap = 0;
    this.tapTimer = null;
    this.gesture = null;
    stage.addEventListener('pointerdown', (e) => this.down(e));
    stage.addEventListener('pointermove', (e) => this.move(e));
    stage.addEventListener('pointerup', (e) => this.up(e));
    stage.addEventListener('pointercancel', (e) => this.up(e, true));
    stage.addEventListener('dblclick', (e) => { if (e.pointerType !== 'touch') this.toggleZoom(e.clientX, e.clientY); });
  }

  show(photo) {
    const token = ++this.token;
    const img = document.createElement('img');
    img.id = 'detail-img';
    img.alt = photo.filename || '';
    img.draggable = false;
    img.className = 'blur';
    img.dataset.photoId = photo.id;
    img.dataset.stage = 'thumb';
    img.src = photo.thumbnail_url;
    this.img.replaceWith(img);
    this.img = img;
    this.resetZoom();
    const preview = new Image();
    preview.decoding = 'async';
    preview.onload = () => {
      if (token !== this.token) return;  // the viewer moved on: drop it
      img.src = preview.src;
      img.dataset.stage = 'preview';
      img.classList.remove('blur');
    };
    preview.onerror = () => {
      if (token !== this.token) return;
      img.classList.remove('blur');
      img.dataset.stage = 'thumb-only';
    };
    preview.src = photo.preview_url || `/api/photos/${photo.id}/preview`;
  }

  stop() { this.token++; }

  resetZoom() { this.scale = 1; this.tx = 0; this.ty = 0; this.apply(); }
  apply() {
    this.img.style.transform = this.scale === 1 ? '' : `translate(${this.tx}px, ${this.ty}px) scale(${this.scale})`;
    this.stage.classList.toggle('zoomed', this.scale > 1);
  }
  zoomAt(scale, cx, cy) {
    const r = this.stage.getBoundingClientRect();
    const ox = cx - (r.left + r.width / 2), oy = cy - (r.top + r.height / 2);
    const s = Math.min(MAX_SCALE, Math.max(1, scale));
    // Keep the point under (cx, cy) where it is.
    this.tx = ox - (ox - this.tx) * (s / this.scale);
    this.ty = oy - (oy - this.ty) * (s / this.scale);
    this.scale = s;
    if (s === 1) { this.tx = 0; this.ty = 0; }
    this.apply();
  }
  toggleZoom(cx, cy) {
    if (this.scale > 1) this.resetZoom();
    else this.zoomAt(2.5, cx, cy);
  }

  down(e) {
    if (e.target.closest('button, a')) return;
    try { this.stage.setPointerCapture(e.pointerId); } catch (err) { /* not an active pointer */ }
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY, x0: e.clientX, y0: e.clientY, t: performance.now() });
    if (this.pointers.size === 2) {
      const [a, b] = [...this.pointers.values()];
      this.gesture = { kind: 'pinch', dist: Math.hypot(a.x - b.x, a.y - b.y), scale: this.scale };
    } else if (this.pointers.size === 1) {
      this.gesture = { kind: this.scale > 1 ? 'pan' : 'swipe', tx: this.tx, ty: this.ty };
    }
  }
  move(e) {
    const p = this.pointers.get(e.pointerId);
    if (!p) return;
    p.x = e.clientX; p.y = e.clientY;
    const g = this.gesture;
    if (!g) return;
    if (g.kind === 'pinch' && this.pointers.size === 2) {
      const [a, b] = [...this.pointers.values()];
      const d = Math.hypot(a.x - b.x, a.y - b.y);
      if (g.dist > 0) this.zoomAt(g.scale * d / g.dist, (a.x + b.x) / 2, (a.y + b.y) / 2);
    } else if (g.kind === 'pan') {
      this.tx = g.tx + (p.x - p.x0); this.ty = g.ty + (p.y - p.y0);
      this.apply();
    } else if (g.kind === 'swipe') {
      this.img.style.transform = `translateX(${p.x - p.x0}px)`;
    }
  }
  up(e, cancelled = false) {
    const p = this.pointers.get(e.pointerId);
    this.pointers.delete(e.pointerId);
    const g = this.gesture;
    if (!p || !g) return;
    if (g.kind === 'pinch') {
      if (this.pointers.size === 0) this.gesture = null;
      else this.gesture = { kind: 'pinched' };  // one finger still down: no swipe, no tap
      return;
    }
    if (this.pointers.size > 0) return;
    this.gesture = null;
    if (cancelled) { if (this.scale === 1) this.apply(); return; }
    const dx = p.x - p.x0, dy = p.y - p.y0;
    if (g.kind === 'swipe') {
      this.img.style.transform = '';
      if (Math.abs(dx) > SWIPE_PX && Math.abs(dx) > Math.abs(dy)) {
        if (dx < 0) this.onNext(); else this.onPrev();
        return;
      }
    }
    if (g.kind === 'pinched' || Math.hypot(dx, dy) > 10) return;
    // A tap: two quick ones zoom; one alone toggles the info sheet.
    const now = performance.now();
    if (e.pointerType === 'touch' && now - this.lastTap < DOUBLE_TAP_MS) {
      clearTimeout(this.tapTimer);
      this.lastTap = 0;
      this.toggleZoom(p.x, p.y);
      return;
    }
    this.lastTap = now;
    clearTimeout(this.tapTimer);
    this.tapTimer = setTimeout(() => { if (this.onTap) this.onTap(); }, e.pointerType === 'touch' ? DOUBLE_TAP_MS : 0);
  }
}
