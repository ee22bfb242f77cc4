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
  // Codes the HTTP layer and sign-in send (send_error_code in src/server).
  unauthenticated: '请先登录，或登录已过期',
  permission_denied: '没有权限执行这个操作',
  setup_required: '还没有账号：请先创建管理员账号',
  too_many_requests: '尝试次数过多，请稍后再试',
  misdirected_request: '访问地址不被相册服务接受，请使用相册的正式地址',
  unsupported_media_type: '请求格式不正确',
  // Why a photo's description failed (photo.vlm_error_code, src/vlm/vlm_error_code.cpp)
  // or its search vector could not be made (/api/jobs recent_failures[].code).
  vlm_unreachable: '连接不上视觉大模型服务，请检查网络或服务地址',
  vlm_timeout: '视觉大模型响应超时，请稍后重试',
  vlm_auth: '视觉大模型拒绝了 API 密钥，请检查密钥设置',
  vlm_rate_limited: '视觉大模型请求太频繁，已被限流，请稍后重试',
  vlm_not_found: '视觉大模型服务找不到所配置的模型或地址',
  vlm_rejected: '视觉大模型拒绝了这张图片的请求',
  vlm_image_too_large: '图片太大，视觉大模型无法处理',
  vlm_server_error: '视觉大模型服务出错，请稍后重试',
  vlm_bad_reply: '视觉大模型返回的内容无法识别',
  vlm_not_configured: '未配置视觉大模型',
  vlm_image_unreadable: '无法读取这张照片，不能交给视觉大模型分析',
  vlm_failed: '图片分析失败，请稍后重试',
  processing_failed: '无法处理这张照片（生成搜索向量失败），搜索时找不到它',
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
  album: { not_found: '找不到这个相册，它可能已被删除或不再共享给你' },
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
