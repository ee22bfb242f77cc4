// Dialogs take focus when they open, keep Tab inside, and give focus back.
const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])';

const visible = (el) => !el.hidden && !el.closest('[hidden]') && el.getClientRects().length > 0;

export class FocusTrap {
  constructor(el) {
    this.el = el;
    this.returnTo = null;
    this.onKey = (e) => {
      if (e.key !== 'Tab' || this.el.hidden) return;
      const items = [...this.el.querySelectorAll(FOCUSABLE)].filter(visible);
      if (!items.length) { e.preventDefault(); return; }
      const first = items[0], last = items[items.length - 1];
      const inside = this.el.contains(document.activeElement);
      if (e.shiftKey && (document.activeElement === first || !inside)) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (document.activeElement === last || !inside)) { e.preventDefault(); first.focus(); }
    };
  }
  activate(initial) {
    if (!this.returnTo) this.returnTo = document.activeElement;
    document.addEventListener('keydown', this.onKey, true);
    const target = initial || [...this.el.querySelectorAll(FOCUSABLE)].find(visible);
    if (target) target.focus({ preventScroll: true });
  }
  release() {
    document.removeEventListener('keydown', this.onKey, true);
    const back = this.returnTo;
    this.returnTo = null;
    if (back && document.contains(back) && typeof back.focus === 'function') back.focus({ preventScroll: true });
  }
}
