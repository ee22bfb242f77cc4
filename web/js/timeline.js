// The timeline view of 全部照片: photos (newest taken first) grouped by day
// under sticky Chinese date headers, and a month scrubber on the side that
// jumps to any month by asking the server for the photos from that month
// down (nothing before it is loaded).

const WEEKDAYS = ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六'];

// "2023-07-14T21:30:05+08:00" -> "2023-07-14": the day on the camera's (or the
// uploader's) own clock, not converted to the viewer's zone.
export const dayKey = (p) => (p.taken_at || p.added_at || '').slice(0, 10);
export const monthKey = (p) => (p.taken_at || p.added_at || '').slice(0, 7);

// "2023-07-14" -> "2023年7月14日 星期五" (the weekday of that calendar date).
export function dayLabel(key) {
  const m = key.match(/^(\d{4})-(\d{2})-(\d{2})$/);
  if (!m) return '日期未知';
  const wd = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).getUTCDay();
  return `${+m[1]}年${+m[2]}月${+m[3]}日 ${WEEKDAYS[wd]}`;
}
export const monthLabel = (key) => { const [y, m] = key.split('-'); return `${+y}年${+m}月`; };

// The cursor the server pages by: the photo's sort key (see GET /api/photos).
export const cursorOf = (p) => `${p.taken_at}|${p.id}`;

// (taken_at, id) descending, as the server sorts.
export const newerFirst = (a, b) => (a.taken_at < b.taken_at ? 1 : a.taken_at > b.taken_at ? -1 : b.id - a.id);

// Day sections inside the grid element: <section class="day" data-day>
// <h2 class="day-head">…</h2><div class="day-grid">cards…</div></section>.
export class DayGroups {
  constructor(grid) { this.grid = grid; }

  section(key, where) {
    let s = this.grid.querySelector(`:scope > section.day[data-day="${key}"]`);
    if (s) return s;
    s = document.createElement('section');
    s.className = 'day';
    s.dataset.day = key;
    s.dataset.month = key.slice(0, 7);
    const h = document.createElement('h2');
    h.className = 'day-head';
    h.textContent = dayLabel(key);
    const g = document.createElement('div');
    g.className = 'day-grid';
    s.append(h, g);
    if (where === 'start') this.grid.prepend(s);
    else if (where instanceof Element) this.grid.insertBefore(s, where);
    else this.grid.appendChild(s);
    return s;
  }

  // Cards for photos older than everything shown.
  append(photos, cards) {
    photos.forEach((p, i) => this.section(dayKey(p)).querySelector('.day-grid').appendChild(cards[i]));
  }

  // Cards for photos newer than everything shown (given newest first).
  prepend(photos, cards) {
    for (let i = photos.length - 1; i >= 0; i--) {
      const s = this.section(dayKey(photos[i]), 'start');
      s.querySelector('.day-grid').prepend(cards[i]);
    }
  }

  // One card at its place among `items` (already inserted there at `index`).
  insertAt(items, index, card) {
    const p = items[index];
    const key = dayKey(p);
    const next = items[index + 1];
    let s = this.grid.querySelector(`:scope > section.day[data-day="${key}"]`);
    if (!s) {
      // The first section of an older day goes before it.
      const after = [...this.grid.querySelectorAll(':scope > section.day')].find((x) => x.dataset.day < key);
      s = this.section(key, after || null);
    }
    const g = s.querySelector('.day-grid');
    const nextCard = next && dayKey(next) === key ? g.querySelector(`.card[data-id="${next.id}"]`) : null;
    g.insertBefore(card, nextCard);
  }

  // Removes day sections left without cards.
  prune() {
    this.grid.querySelectorAll(':scope > section.day').forEach((s) => { if (!s.querySelector('.card')) s.remove(); });
  }
}

// The month scrubber: one button per month, its height proportional to the
// month's photo count, year labels beside. Pressing it and releasing (a click,
// a tap, or a drag along it with a finger, the month shown in a bubble) picks
// the month under the pointer; Enter / Space on a focused month picks it too.
export class Scrubber {
  constructor(el, onPick) {
    this.el = el;
    this.onPick = onPick;
    this.months = [];
    this.bubble = document.createElement('div');
    this.bubble.className = 'scrub-bubble';
    this.bubble.hidden = true;
    const monthAt = (e) => document.elementFromPoint(e.clientX, e.clientY)?.closest('.scrub-month');
    const show = (e) => {
      const b = monthAt(e);
      if (!b) { this.bubble.hidden = true; return; }
      this.bubble.textContent = monthLabel(b.dataset.month);
      this.bubble.style.top = `${e.clientY - el.getBoundingClientRect().top}px`;
      this.bubble.hidden = false;
    };
    let pressed = false;
    el.addEventListener('pointerdown', (e) => {
      if (!e.target.closest('.scrub-month')) return;
      pressed = true;
      // A finger that slides along the scrubber keeps talking to it (the
      // scrubber does not scroll the page: touch-action none in browse.css).
      try { el.setPointerCapture(e.pointerId); } catch (err) { /* a synthetic pointer: nothing to capture */ }
      show(e);
    });
    el.addEventListener('pointermove', show);
    el.addEventListener('pointerup', (e) => {
      if (!pressed) return;
      pressed = false;
      const b = monthAt(e);
      if (e.pointerType !== 'mouse') this.bubble.hidden = true;
      if (b) this.onPick(b.dataset.month);
    });
    el.addEventListener('pointercancel', () => { pressed = false; this.bubble.hidden = true; });
    el.addEventListener('pointerleave', () => { if (!pressed) this.bubble.hidden = true; });
    // Keyboard: a click without a pointer (detail 0); pointer clicks went through pointerup.
    el.addEventListener('click', (e) => {
      const b = e.target.closest('.scrub-month');
      if (b && e.detail === 0) this.onPick(b.dataset.month);
    });
  }

  load(months) {
    this.months = months;
    this.el.textContent = '';
    this.el.hidden = months.length < 2;
    const total = months.reduce((s, m) => s + m.count, 0) || 1;
    const track = document.createElement('div');
    track.className = 'scrub-track';
    let lastYear = '';
    for (const m of months) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'scrub-month';
      b.dataset.month = m.month;
      b.style.flexGrow = String(m.count / total * 1000);
      b.title = `${monthLabel(m.month)}（${m.count} 张）`;
      b.setAttribute('aria-label', b.title);
      const year = m.month.slice(0, 4);
      if (year !== lastYear) {
        const y = document.createElement('span');
        y.className = 'scrub-year';
        y.textContent = year;
        b.appendChild(y);
        lastYear = year;
      }
      track.appendChild(b);
    }
    this.el.append(track, this.bubble);
  }

  highlight(month) {
    this.el.querySelectorAll('.scrub-month.current').forEach((b) => b.classList.remove('current'));
    const b = this.el.querySelector(`.scrub-month[data-month="${month}"]`);
    if (b) b.classList.add('current');
  }
}

// Last day of a "YYYY-MM" month as "YYYY-MM-DD" (the server's date_to is inclusive).
export function monthEnd(month) {
  const [y, m] = month.split('-').map(Number);
  const d = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return `${month}-${String(d).padStart(2, '0')}`;
}
