// Helpers for the browse tests: a server per test album, test images made in
// memory (JPEGs with an EXIF date, a 16-bit PNG), held-back replies.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

// ---- images ----

// A JPEG with an EXIF APP1 (DateTimeOriginal "YYYY:MM:DD HH:MM:SS" and, when
// given, OffsetTimeOriginal "+08:00") inserted after SOI. Different dates give
// different bytes, so the same pixels upload as different photos.
export function jpegWithExifDate(jpeg, date, offset = '') {
  const entries = [[0x9003, date + '\0']];
  if (offset) entries.push([0x9011, offset + '\0']);
  const exifIfd = 26;                               // after IFD0 (2 + 12 + 4) at offset 8
  let data = exifIfd + 2 + entries.length * 12 + 4; // where the strings go
  const tiff = Buffer.alloc(data + entries.reduce((n, [, s]) => n + s.length, 0));
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  tiff.writeUInt16LE(1, 8);                         // IFD0: one entry, the Exif IFD pointer
  tiff.writeUInt16LE(0x8769, 10); tiff.writeUInt16LE(4, 12); tiff.writeUInt32LE(1, 14); tiff.writeUInt32LE(exifIfd, 18);
  tiff.writeUInt32LE(0, 22);
  tiff.writeUInt16LE(entries.length, exifIfd);
  entries.forEach(([tag, s], i) => {
    const at = exifIfd + 2 + i * 12;
    tiff.writeUInt16LE(tag, at); tiff.writeUInt16LE(2, at + 2); tiff.writeUInt32LE(s.length, at + 4);
    tiff.writeUInt32LE(data, at + 8);
    tiff.write(s, data, 'latin1');
    data += s.length;
  });
  tiff.writeUInt32LE(0, exifIfd + 2 + entries.length * 12);
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 255]);
  return Buffer.concat([jpeg.subarray(0, 2), head, payload, jpeg.subarray(2)]);
}

function pngChunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(zlib.crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

// A w x h 16-bit-per-channel RGB PNG (a smooth gradient).
export function png16(w, h) {
  const row = 1 + w * 6;
  const raw = Buffer.alloc(row * h);
  for (let y = 0; y < h; y++) {
    raw[y * row] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * row + 1 + x * 6;
      raw.writeUInt16BE(Math.floor(65535 * x / w), o);
      raw.writeUInt16BE(Math.floor(65535 * y / h), o + 2);
      raw.writeUInt16BE(30000, o + 4);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 16; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

// Width and height from a JPEG's SOF marker.
export function jpegSize(buf) {
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) return null;
    const m = buf[i + 1];
    const len = buf.readUInt16BE(i + 2);
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    }
    i += 2 + len;
  }
  return null;
}

// Servers, JSON and the job queue: harness.mjs (shared by every e2e test).
export { Albums, getJson, waitJobsIdle } from './harness.mjs';

// A promise the test resolves when it wants a held-back reply to go out.
export function gate() {
  let open;
  const p = new Promise((r) => { open = r; });
  return { p, open };
}

// What ctest passes to every browser test (tests/CMakeLists.txt), checked once.
export function testEnv() {
  const env = { BIN: process.env.SA_BINARY, FILL: process.env.SA_FILL_ALBUM, DATA: process.env.SA_TEST_DATA,
    SRC: process.env.SA_SOURCE_DIR };
  if (!env.BIN || !env.DATA || !env.SRC) throw new Error('SA_BINARY, SA_TEST_DATA and SA_SOURCE_DIR must be set (ctest sets them)');
  env.MODEL = path.join(env.DATA, 'clip/tiny-b16/hf-safetensors');
  return env;
}

// The two viewports every browse test checks.
export const DESKTOP = { width: 1440, height: 900 };
export const PHONE = { width: 390, height: 844 };

export function shotDir() {
  const dir = process.env.SA_ARTIFACTS || path.join(path.dirname(process.env.SA_BINARY), 'e2e-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
