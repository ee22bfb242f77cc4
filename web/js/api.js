// Thin wrappers over the JSON API. Every call resolves with the parsed body or
// rejects with an Error whose message is the server's error message (zh/en).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Called when a request cannot reach the server at all (errors.js Connection).
export const hooks = { onNetworkError: null };

async function request(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (hooks.onNetworkError) hooks.onNetworkError();
    throw new ApiError(0, 'network', '无法连接到相册服务');
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (res.status === 401) window.dispatchEvent(new Event('sa-unauthenticated'));
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: 'http_' + res.status, message: res.statusText };
    throw new ApiError(res.status, err.code, err.message);
  }
  return data;
}

const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== '')).toString();

export const api = {
  health: () => request('GET', '/api/health'),
  // {page, perPage} or {before, perPage}: before = an id, the photos older than it.
  // favorite: 1 and album: ID narrow the list (organise.js).
  photos: ({ page, perPage, before, favorite, album } = {}) =>
    request('GET', '/api/photos?' + q({ page, per_page: perPage, before, favorite, album })),
  // The timeline: newest taken first; cursor = older than, after = newer than a photo.
  timelinePage: ({ cursor, after, limit, dateTo, dateFrom, favorite, album } = {}) =>
    request('GET', '/api/photos?' + q({ sort: 'taken', cursor, after, limit, date_to: dateTo, date_from: dateFrom, favorite, album })),
  timeline: () => request('GET', '/api/timeline'),
  // Which of these photos (up to 1000 ids) are still being processed: {processed, pending, missing}.
  photoStates: (ids) => request('POST', '/api/photos/states', { ids }),
  folders: () => request('GET', '/api/folders'),
  photo: (id) => request('GET', `/api/photos/${id}`),
  remove: (id) => request('DELETE', `/api/photos/${id}`),
  analyze: (id) => request('POST', `/api/photos/${id}/analyze`),
  search: (query, opts) => request('GET', '/api/search?' + q({ q: query, ...opts })),
  similar: (id, limit) => request('GET', `/api/photos/${id}/similar?` + q({ limit })),
  settings: () => request('GET', '/api/settings'),
  saveSettings: (s) => request('PUT', '/api/settings', s),
  jobs: () => request('GET', '/api/jobs'),
  // Organising (organise.js).
  setFavorite: (id, favorite) => request('PATCH', `/api/photos/${id}`, { favorite }),
  batch: (action, ids, albumId) => request('POST', '/api/photos/batch', { action, ids, album_id: albumId }),
  trash: (opts = {}) => request('GET', '/api/trash?' + q({ page: opts.page, per_page: opts.perPage })),
  restore: (ids) => request('POST', '/api/trash/restore', { ids }),
  emptyTrash: () => request('DELETE', '/api/trash'),
  albums: () => request('GET', '/api/albums'),
  album: (id) => request('GET', `/api/albums/${id}`),
  createAlbum: (name) => request('POST', '/api/albums', { name }),
  updateAlbum: (id, changes) => request('PATCH', `/api/albums/${id}`, changes),
  deleteAlbum: (id) => request('DELETE', `/api/albums/${id}`),
  duplicates: (threshold) => request('GET', '/api/duplicates?' + q({ threshold })),
};

// POST /api/photos with some files; onProgress(loadedBytes, totalBytes).
// Returns {done, abort}: done resolves with {uploaded, rejected} (each entry's
// "index" is the file's position in `files`) or rejects with an ApiError whose
// code is 'network' (connection lost), 'cancelled' (abort()) or the server's.
export function uploadChunk(files, onProgress, albumId = 0) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    const form = new FormData();
    for (const f of files) form.append('files', f.file, f.name);
    xhr.open('POST', albumId ? `/api/photos?album=${albumId}` : '/api/photos');
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else reject(new ApiError(xhr.status, body?.error?.code || `http_${xhr.status}`, body?.error?.message || ''));
    };
    xhr.onerror = () => {
      if (hooks.onNetworkError) hooks.onNetworkError();
      reject(new ApiError(0, 'network', ''));
    };
    xhr.onabort = () => reject(new ApiError(0, 'cancelled', ''));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
