// Toasts: one at a time (a new one replaces the last), errors in Chinese by
// their code (errors.js), never the server's message.
import { errorText } from './errors.js';

const $ = (id) => document.getElementById(id);

// One toast at a time (a new one replaces the last); lost connections show the
// banner instead (errors.js Connection).
export function toast(msg, isError = false) {
  const box = $('toasts');
  box.textContent = '';
  const t = document.createElement('div');
  t.className = 'toast' + (isError ? ' error' : '');
  t.textContent = msg;
  box.appendChild(t);
  setTimeout(() => t.remove(), isError ? 5000 : 2500);
}
export function toastError(e, context) {
  if (e && e.code === 'network') return;  // the connection banner says it
  toast(errorText(e, context), true);
}
