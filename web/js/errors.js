// Error codes -> Chinese. The server gives every error a stable `code`
// ({"error":{"code","message"}}, see src/core/status.cpp); the page shows the
// Chinese text for the code and never the server's `message`, which may be
// English. tests/e2e/errors.test.mjs checks every code the server can send.

export const ERROR_TEXT = {
  invalid_argument: '请求无效，请检查输入的内容',
  not_found: '找不到这张照片，它可能已被删除',
  already_exists: '已经存在',
  resource_exhausted: '文件太大或像素过多，超过了相册的上传限制',
  unimplemented: '相册服务不支持这个操作',
  unavailable: '相册服务暂时无法完成这个操作',
  timeout: '相册服务处理超时，请稍后再试',
  corruption: '相册数据已损坏，请联系管理员',
  io_error: '相册服务读写文件失败（磁盘可能已满）',
  internal: '相册服务内部出错，请稍后再试',
  unknown: '发生了未知错误',
  ok: '操作成功',
  // Made by the page itself.
  network: '与相册服务的连接已断开',
  cancelled: '已取消',
  http: '相册服务返回了意外的结果',
};

// Clearer words where the context says more than the code.
const IN_CONTEXT = {
  upload: {
    invalid_argument: '不是可识别的图片（支持 JPEG、PNG、WebP、HEIC、GIF、TIFF），或文件已损坏',
    resource_exhausted: '文件太大或像素过多，超过了上传限制',
    network: '上传时连接中断，可以重试',
  },
  search: {
    invalid_argument: '搜索条件无效，请检查关键词和日期',
    unavailable: '搜索需要模型：请用 --model 启动相册后再搜索或查找相似照片。照片仍可上传和浏览。',
  },
  similar: {
    unavailable: '搜索需要模型：请用 --model 启动相册后再搜索或查找相似照片。照片仍可上传和浏览。',
  },
  analyze: { unavailable: '未配置视觉大模型，无法分析图片' },
};

// Chinese text for an ApiError-like {code, status} in a context
// ("upload" | "search" | "similar" | "analyze" | "list" | ...).
export function errorText(err, context = '') {
  const code = (err && err.code) || 'unknown';
  const ctx = IN_CONTEXT[context];
  if (ctx && ctx[code]) return ctx[code];
  if (ERROR_TEXT[code]) return ERROR_TEXT[code];
  if (/^http_\d+$/.test(code)) return `${ERROR_TEXT.http}（HTTP ${code.slice(5)}）`;
  return `${ERROR_TEXT.unknown}（${code}）`;
}

// One banner while the server is unreachable (instead of a toast per failed
// request): polls /api/health until it answers, then tells the listeners.
export class Connection {
  constructor(banner) {
    this.banner = banner;
    this.down = false;
    this.listeners = [];
    this.timer = null;
  }
  onBack(fn) { this.listeners.push(fn); }
  lost() {
    if (this.down) return;
    this.down = true;
    if (this.banner) this.banner.hidden = false;
    this.poll();
  }
  async poll() {
    clearTimeout(this.timer);
    let ok = false;
    try { ok = (await fetch('/api/health', { cache: 'no-store' })).ok; } catch (e) { ok = false; }
    if (!ok) { this.timer = setTimeout(() => this.poll(), 1500); return; }
    this.down = false;
    if (this.banner) this.banner.hidden = true;
    for (const fn of this.listeners) { try { fn(); } catch (e) { /* a listener's problem */ } }
  }
}
