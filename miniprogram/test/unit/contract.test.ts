// Every operation of the API client is documented, and the body checker
// used by the end-to-end test does refuse bodies that do not match.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OPS } from '../../miniprogram/lib/api';
import { checkRequest, Doc, findOperation } from '../openapi';

// The document the backend serves is embedded from this file (go:embed).
const doc: Doc = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'miniapp-api', 'api', 'openapi.json'), 'utf8'));

test('every operation of the client is in the OpenAPI document', () => {
  for (const [name, op] of Object.entries(OPS)) {
    const f = findOperation(doc, op.method, op.path.replace(/\{(\w+)\}/g, 'x1'));
    assert.ok(f && f.template === op.path, `${name}: ${op.method} ${op.path}`);
  }
});

test('the body checker refuses what does not match', () => {
  const scan = { scan_id: 's1', token: 'OB1.x', gate: 'g-1', direction: 'in', scanned_at: '2026-12-05T10:00:00.000Z' };
  assert.deepEqual(checkRequest(doc, 'POST', '/scans', scan), []);
  assert.notDeepEqual(checkRequest(doc, 'POST', '/scans', { ...scan, direction: 'up' }), []);
  assert.notDeepEqual(checkRequest(doc, 'POST', '/scans', { ...scan, scanned_at: 'yesterday' }), []);
  assert.notDeepEqual(checkRequest(doc, 'POST', '/scans', { ...scan, gate: undefined }), []);
  assert.notDeepEqual(checkRequest(doc, 'POST', '/scans', { ...scan, extra: 1 }), []);
  assert.notDeepEqual(checkRequest(doc, 'POST', '/scans/batch', { scans: Array(501).fill(scan) }), []);
  assert.deepEqual(checkRequest(doc, 'POST', '/scans/batch', { scans: Array(500).fill(scan) }), []);
  assert.notDeepEqual(checkRequest(doc, 'POST', '/scan', scan), []);
  assert.notDeepEqual(checkRequest(doc, 'GET', '/me', { x: 1 }), []);
  assert.notDeepEqual(checkRequest(doc, 'PUT', '/me/household', { community: '1', building: '1', members: [{ name: 'a', id_number: 'b', relation: 'cousin' }] }), []);
});
