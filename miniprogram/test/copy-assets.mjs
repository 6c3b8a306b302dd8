// Copies what tsc does not emit (wxml, wxss, json, the vendored JavaScript)
// beside the compiled pages in build/, so miniprogram-simulate can load them.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'miniprogram');
const dst = join(root, 'build', 'miniprogram');

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'miniprogram_npm') continue;
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(wxml|wxss|json|js)$/.test(name)) cpSync(p, join(dst, p.slice(src.length)));
  }
}
walk(src);
