// The whole project compiled offline by miniprogram-ci, as WeChat's tools
// would: npm packed manually into miniprogram_npm, then getCompiledResult
// with a dummy key and ci.DefaultProjectAttr, so nothing is asked of WeChat.
// miniprogram-ci still tries to fetch its list of allowed file extensions;
// its proxy points at a closed loopback port, so that request fails on this
// machine and it falls back to its built-in list.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface CI {
  proxy(url: string): void;
  packNpmManually(o: { packageJsonPath: string; miniprogramNpmDistDir: string }): Promise<{ miniProgramPackNum: number; otherNpmPackNum: number; warnList: unknown[] }>;
  Project: new (o: object) => object;
  DefaultProjectAttr: object;
  getCompiledResult(o: object, savePath?: string): Promise<Record<string, string | Buffer>>;
}

const root = path.join(__dirname, '..', '..', '..');

// miniprogram-ci leaves its compiler process running; once the results are
// reported, end this file's process (with the exit code the runner set).
after(() => {
  setTimeout(() => process.exit(), 1000).unref();
});

test('miniprogram-ci packs npm and compiles every page offline', { timeout: 240000 }, async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ci = require('miniprogram-ci') as CI;
  ci.proxy('http://127.0.0.1:9');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onebook-ci-'));
  const keyPath = path.join(dir, 'private.dummy.key');
  fs.writeFileSync(keyPath, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }));

  const packed = await ci.packNpmManually({ packageJsonPath: path.join(root, 'package.json'), miniprogramNpmDistDir: path.join(root, 'miniprogram') });
  assert.equal(packed.otherNpmPackNum, 1, 'qrcode-generator, the one runtime dependency');
  assert.ok(fs.existsSync(path.join(root, 'miniprogram', 'miniprogram_npm', 'qrcode-generator', 'index.js')));

  const project = new ci.Project({
    appid: 'wx0000000000000000', type: 'miniProgram', projectPath: root, privateKeyPath: keyPath,
    ignores: ['node_modules/**/*', 'build/**/*', 'test/**/*'],
    attr: async () => ({ ...ci.DefaultProjectAttr }),
  });
  const out = await ci.getCompiledResult({ project, desc: 'build test', setting: { useProjectConfig: true }, onProgressUpdate: () => {} });

  const app = JSON.parse(fs.readFileSync(path.join(root, 'miniprogram', 'app.json'), 'utf8')) as { pages: string[] };
  for (const p of app.pages) {
    for (const ext of ['js', 'wxml', 'wxss', 'json']) assert.ok(out[`${p}.${ext}`] !== undefined, `${p}.${ext} compiled`);
    assert.ok(!/\bimport\s|export\s/.test(String(out[`${p}.js`])), `${p}.js is compiled JavaScript`);
  }
  assert.ok(out['miniprogram_npm/qrcode-generator/index.js'], 'the packed npm dependency is in the package');
  assert.ok(out['vendor/nacl-fast.js'], 'the vendored verifier is in the package');
  assert.ok(!/require\(\s*["']crypto["']\s*\)/.test(String(out['vendor/nacl-fast.js'])));
  assert.ok(/miniprogram_npm\/qrcode-generator|qrcode-generator/.test(String(out['lib/qr.js'])), 'lib/qr.js loads the packed module');
  assert.ok(!Object.keys(out).some((k) => k.endsWith('.ts')), 'no TypeScript source shipped');
  fs.rmSync(dir, { recursive: true, force: true });
});
