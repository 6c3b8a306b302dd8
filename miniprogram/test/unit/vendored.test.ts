// The vendored nacl-fast.js is tweetnacl 1.0.3's, less only its PRNG set-up
// (the WeChat runtime has no Node crypto module to load).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..', '..');

test('vendor/nacl-fast.js is upstream less the PRNG block, and loads nothing', () => {
  const upstream = fs.readFileSync(path.join(root, 'node_modules', 'tweetnacl', 'nacl-fast.js'), 'utf8');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'tweetnacl', 'package.json'), 'utf8'));
  assert.equal(pkg.version, '1.0.3');
  const vendored = fs.readFileSync(path.join(root, 'miniprogram', 'vendor', 'nacl-fast.js'), 'utf8');
  const start = upstream.indexOf('(function() {\n  // Initialize PRNG');
  const end = upstream.indexOf('})();\n', start) + '})();\n'.length;
  assert.ok(start > 0 && end > start);
  const comment = vendored.slice(start, vendored.length - (upstream.length - end));
  assert.equal(vendored.slice(0, start), upstream.slice(0, start));
  assert.equal(vendored.slice(vendored.length - (upstream.length - end)), upstream.slice(end));
  assert.ok(/^(\/\/.*\n|\n)*$/.test(comment), 'only a comment replaces the block: ' + comment);
  assert.ok(!/require\s*\(/.test(vendored));
});
