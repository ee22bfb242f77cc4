// What every browser test needs: `smart-album serve` started in a temp data dir
// (and stopped, letting it flush its database), Debian's chromium, JSON and the
// job queue. One copy here instead of one per test file.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { chromium } from 'playwright-core';

// Flags for Debian's chromium on a CI box: no sandbox (root in a container), no
// GPU, nothing that phones home while a test runs, and Chinese for the browser's
// own widgets (date pickers), as a Chinese user's browser shows them.
export const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--lang=zh-CN'],
};

export const launchChromium = () => chromium.launch(CHROMIUM);

// The environment the servers (and CLI calls beside them) run in: HOME and the
// model cache inside the test's temp dir, nothing from the developer's.
export const serverEnv = (tmp) => ({ PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: path.join(tmp, 'cache') });

export class Albums {
  constructor(bin, src, tmp) { this.bin = bin; this.src = src; this.tmp = tmp; this.children = []; }

  // Starts `smart-album serve` with its data in <tmp>/<name> on `port` (0: any)
  // and resolves with {base, port, child, dataDir}. auth: false (the default)
  // runs it with --auth off, as tests of the album itself do; auth.test.mjs
  // passes true to get sign-in.
  start(name, extraArgs = [], port = 0, { auth = false } = {}) {
    const dataDir = path.join(this.tmp, name);
    const child = spawn(this.bin, ['serve', '--data-dir', dataDir, '--port', String(port),
      ...(auth ? [] : ['--auth', 'off']), '--web-dir', path.join(this.src, 'web'), ...extraArgs], {
      env: serverEnv(this.tmp),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.push(child);
    let log = '';
    child.stderr.on('data', (d) => { log += d; });
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('server did not start: ' + log)), 30000);
      child.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/listening on (http:\/\/[\d.]+:(\d+))\s/);
        if (m) { clearTimeout(timer); resolve({ base: m[1], port: +m[2], child, dataDir }); }
      });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${log}`)); });
    });
  }

  static stop(child) {
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  }

  // Every server this started, each given the time to shut down cleanly.
  stopAll() { return Promise.all(this.children.map((c) => Albums.stop(c))); }
}

export async function getJson(url, init) {
  const r = await fetch(url, init);
  return r.json();
}

export async function waitJobsIdle(base) {
  for (let i = 0; i < 600; i++) {
    const j = await getJson(base + '/api/jobs');
    if (j.pending === 0 && j.running === 0) return j;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('jobs did not finish');
}
