// Hash URLs: #/ (timeline), #/search?q=…&from=&to=&folder=, #/photo/ID,
// #/similar/ID, and the organise views #/favorites, #/albums, #/album/ID,
// #/trash, #/duplicates. Back/Forward, reload and a copied link restore the view.

// Views named by their path alone (organise.js draws them).
const PLAIN = ['favorites', 'albums', 'trash', 'duplicates'];

export function parseHash(hash = location.hash) {
  const h = hash.replace(/^#/, '') || '/';
  const [path, query = ''] = h.split('?');
  const params = new URLSearchParams(query);
  let m;
  if ((m = path.match(/^\/photo\/(\d+)$/))) return { name: 'photo', id: +m[1] };
  if ((m = path.match(/^\/similar\/(\d+)$/))) return { name: 'similar', id: +m[1] };
  if ((m = path.match(/^\/album\/(\d+)$/))) return { name: 'album', id: +m[1] };
  if ((m = path.match(/^\/(\w+)$/)) && PLAIN.includes(m[1])) return { name: m[1] };
  if (path === '/search' && (params.get('q') || '').trim()) {
    return {
      name: 'search', q: params.get('q').trim(),
      from: params.get('from') || '', to: params.get('to') || '', folder: params.get('folder') || '',
    };
  }
  return { name: 'all', month: params.get('month') || '' };
}

export function hashFor(r) {
  if (r.name === 'photo') return `#/photo/${r.id}`;
  if (r.name === 'similar') return `#/similar/${r.id}`;
  if (r.name === 'album') return `#/album/${r.id}`;
  if (PLAIN.includes(r.name)) return `#/${r.name}`;
  if (r.name === 'search') {
    const p = new URLSearchParams({ q: r.q });
    for (const k of ['from', 'to', 'folder']) if (r[k]) p.set(k, r[k]);
    return '#/search?' + p.toString();
  }
  return r.month ? `#/?month=${r.month}` : '#/';
}

// Goes to a route: a new history entry, or replacing the current one.
export function go(r, { replace = false } = {}) {
  const h = hashFor(r);
  if (h === location.hash || (h === '#/' && !location.hash)) return false;
  if (replace) {
    history.replaceState(history.state, '', h);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = h;
  }
  return true;
}

export const sameRoute = (a, b) => !!a && !!b && hashFor(a) === hashFor(b);
