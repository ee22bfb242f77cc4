// Every error code the server can send has Chinese text in the page: the codes
// are read from the server's source (src/core/status.cpp names every
// StatusCode; routes may add their own "code" literals), so a new code
// without a translation fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = process.env.SA_SOURCE_DIR || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { ERROR_TEXT, errorText } = await import(path.join(SRC, 'web/js/errors.js'));
const CJK = /[\u4e00-\u9fff]/;

function serverCodes() {
  const status = fs.readFileSync(path.join(SRC, 'src/core/status.cpp'), 'utf8');
  const codes = new Set([...status.matchAll(/return "([a-z_]+)";/g)].map((m) => m[1]));
  // Codes a route writes itself: {"code", "..."} literals and kCode... constants under src/server.
  const dir = path.join(SRC, 'src/server');
  for (const f of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const m of text.matchAll(/\{"code",\s*"([a-z_]+)"\}/g)) codes.add(m[1]);
    for (const m of text.matchAll(/\bkCode\w*\s*=\s*"([a-z_]+)"/g)) codes.add(m[1]);
    for (const m of text.matchAll(/send_error_code\(\s*\w+,\s*\d+,\s*"([a-z_]+)"/g)) codes.add(m[1]);
  }
  // Why a description failed (photo.vlm_error_code, recent_failures[].code).
  const vlm = fs.readFileSync(path.join(SRC, 'src/vlm/vlm_error_code.cpp'), 'utf8');
  for (const m of vlm.matchAll(/return "([a-z_]+)";/g)) codes.add(m[1]);
  return codes;
}

test('every server error code has a Chinese message', () => {
  const codes = serverCodes();
  assert.ok(codes.size >= 20, `found only ${[...codes]}`);
  for (const c of ['processing_failed', 'vlm_unreachable', 'vlm_rejected', 'vlm_failed', 'unauthenticated', 'too_many_requests']) {
    assert.ok(codes.has(c), `the scan finds ${c}`);
  }
  for (const code of codes) {
    assert.ok(ERROR_TEXT[code], `no text for code "${code}"`);
    assert.match(errorText({ code }), CJK, code);
  }
});

test('page-made codes and unknown codes are Chinese too, never the server message', () => {
  for (const code of ['network', 'cancelled', 'http_502', 'some_new_code']) {
    const t = errorText({ code, message: 'connection refused' });
    assert.match(t, CJK, code);
    assert.doesNotMatch(t, /connection refused/);
  }
  // Context words: an upload rejection says what was wrong with the file.
  assert.match(errorText({ code: 'invalid_argument' }, 'upload'), /不是可识别的图片/);
  assert.match(errorText({ code: 'resource_exhausted' }, 'upload'), /太大/);
  assert.match(errorText({ code: 'unavailable' }, 'search'), /需要模型/);
});
