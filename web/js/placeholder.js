// The search box's hint in full where it fits, shorter on a narrow screen (a
// 390 px phone cuts the full one after "例如：海"): the longest of the hints
// whose text fits the box's content width in the box's own font, chosen again
// when the box changes size.
const HINTS = ['描述你想找的照片，例如：海边的日落', '搜索照片，如：海边日落', '搜索照片'];

let canvas = null;
function textWidth(input, text) {
  canvas ||= document.createElement('canvas');
  const ctx = canvas.getContext('2d');
  const cs = getComputedStyle(input);
  ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  return ctx.measureText(text).width;
}

function fit(input) {
  const cs = getComputedStyle(input);
  const room = input.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  if (room <= 0) return;  // not laid out (hidden)
  input.placeholder = HINTS.find((h) => textWidth(input, h) <= room) || HINTS[HINTS.length - 1];
}

export function fitPlaceholder(input) {
  fit(input);
  new ResizeObserver(() => fit(input)).observe(input);
  document.fonts?.ready.then(() => fit(input));  // again once the fonts are in
}
