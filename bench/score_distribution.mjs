// How far apart are the scores of queries that match a photo and of queries
// that match nothing? The numbers behind search's relevance cut-off (min_score,
// score_floor, score_ceiling; docs/search.md "How the defaults were chosen").
//
//   node bench/score_distribution.mjs BUILD/smart-album MODEL_DIR PHOTO_DIR [OUT.json]
//
// PHOTO_DIR holds photos and eval_captions.json ({"file": ["caption", ...]}),
// e.g. ../shared/testdata/real-photos/flickr30k-cn-cars (research licence: used
// from there, never copied). Imports them into a temp album, then asks
// GET /api/search?min_score=0 for every caption (its photo is the match), for
// captions of scenes the set does not show (unrelated) and for nonsense, and
// prints the distribution of the raw CLIP cosine and the calibrated score of
// the best hit and of the intended photo. Not a test: a measurement to rerun
// on the model you serve.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Albums, getJson } from '../tests/e2e/harness.mjs';

const [bin, model, photos, out] = process.argv.slice(2);
if (!bin || !model || !photos) {
  console.error('usage: node bench/score_distribution.mjs SMART_ALBUM MODEL_DIR PHOTO_DIR [OUT.json]');
  process.exit(2);
}
const captions = JSON.parse(fs.readFileSync(path.join(photos, 'eval_captions.json'), 'utf8'));

// Scenes a street-photo set does not show, and strings that describe nothing.
const UNRELATED = ['一只企鹅站在南极的冰面上', '海边的日落', '一碗热腾腾的牛肉面', '雪山下的湖泊',
  '婴儿在床上睡觉', '一盘寿司', '森林里的小鹿', '夜空中的银河', '一杯拿铁咖啡', '沙漠中的骆驼',
  '生日蛋糕上的蜡烛', '水族馆里的鲨鱼', '一本打开的书', '钢琴的黑白琴键', '樱花盛开的公园',
  '熊猫在吃竹子', '足球比赛的进球瞬间', '厨房里切菜的手', '月饼和茶', '满是星星的沙滩'];
const NONSENSE = ['asdfghjkl', 'qwertyuiop', 'zxcvbnm', '啊啊啊啊', '的的的的的', '。。。。', '！？！？',
  '123456789', '3.14159265', 'ＡＢＣ１２３', 'café naïve résumé', 'HelloWorld', 'lorem ipsum dolor',
  '鑫淼焱垚犇', '嗯嗯好的', 'xyzzy plugh', '###$$$%%%', '龘靐齉齾', 'aaaaaaa', '一二三四五六七'];

const quant = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  const r = (x) => Math.round(x * 1000) / 1000;
  return { n: s.length, min: r(s[0]), p10: r(q(0.1)), p50: r(q(0.5)), p90: r(q(0.9)), max: r(s[s.length - 1]) };
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-scores-'));
const albums = new Albums(bin, path.resolve(path.dirname(new URL(import.meta.url).pathname), '..'), tmp);
try {
  const dataDir = path.join(tmp, 'album');
  execFileSync(bin, ['import', '--data-dir', dataDir, '--model', model, photos], { stdio: 'ignore' });
  const a = await albums.start('album', ['--model', model]);
  const settings = await getJson(a.base + '/api/settings');
  const all = (await getJson(a.base + '/api/photos?limit=500')).items;
  const idOf = new Map(all.map((p) => [p.filename, p.id]));
  const search = (q) => getJson(`${a.base}/api/search?mode=clip&min_score=0&limit=500&q=${encodeURIComponent(q)}`);

  const match = { top_cos: [], top_score: [], own_cos: [], own_score: [], own_rank: [] };
  for (const [file, caps] of Object.entries(captions)) {
    const id = idOf.get(file);
    if (!id) continue;
    for (const c of caps) {
      const r = await search(c);
      const at = r.items.findIndex((h) => h.id === id);
      match.top_cos.push(r.items[0].clip_score);
      match.top_score.push(r.items[0].score);
      match.own_cos.push(r.items[at].clip_score);
      match.own_score.push(r.items[at].score);
      match.own_rank.push(at + 1);
    }
  }
  const none = async (qs) => {
    const top = { top_cos: [], top_score: [] };
    for (const q of qs) {
      const r = await search(q);
      top.top_cos.push(r.items[0].clip_score);
      top.top_score.push(r.items[0].score);
    }
    return top;
  };
  const unrelated = await none(UNRELATED), nonsense = await none(NONSENSE);
  const result = {
    model, photos: all.length, settings,
    matching: Object.fromEntries(Object.entries(match).map(([k, v]) => [k, quant(v)])),
    unrelated: Object.fromEntries(Object.entries(unrelated).map(([k, v]) => [k, quant(v)])),
    nonsense: Object.fromEntries(Object.entries(nonsense).map(([k, v]) => [k, quant(v)])),
    // The share of each kind whose best hit passes the cut-off in force.
    passes_min_score: {
      matching_own: match.own_score.filter((s) => s >= settings.min_score).length / match.own_score.length,
      unrelated_top: unrelated.top_score.filter((s) => s >= settings.min_score).length / UNRELATED.length,
      nonsense_top: nonsense.top_score.filter((s) => s >= settings.min_score).length / NONSENSE.length,
    },
  };
  const text = JSON.stringify(result, null, 2);
  console.log(text);
  if (out) fs.writeFileSync(out, text);
} finally {
  await albums.stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
}
