// The test environment of the pages: jsdom globals for miniprogram-simulate
// (under Node 20 its Event and CustomEvent must be jsdom's) and the fake wx.
// Import it before any page or lib module.
import * as path from 'path';
import { FakeState, makeWx, newState } from './fakewx';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { JSDOM } = require('jsdom') as { JSDOM: new (html: string, o?: object) => { window: Record<string, unknown> & { document: unknown } } };
const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
const g = global as unknown as Record<string, unknown>;
for (const k of ['window', 'document', 'Event', 'CustomEvent', 'Node', 'Element', 'HTMLElement', 'DocumentFragment', 'MutationObserver', 'getComputedStyle']) {
  g[k] = k === 'window' ? dom.window : k === 'document' ? dom.window.document : dom.window[k];
}

export const st: FakeState = newState();
g.wx = makeWx(st);

/** The part of miniprogram-simulate the tests use (its own typings bring an older copy of the wx typings). */
export interface Rendered {
  instance: Record<string, (...args: never[]) => unknown> & { data: Record<string, unknown> };
  attach(parent: unknown): void;
  querySelector(selector: string): { dispatchEvent(name: string, o?: { detail?: unknown }): void; dom: { textContent: string | null } } | undefined;
  dom: { textContent: string | null; innerHTML: string };
}
interface Simulate {
  load(path: string, options?: { rootPath?: string }): string;
  render(id: string): Rendered;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const simulate = require('miniprogram-simulate') as Simulate;

/** ROOT is the compiled mini-program (build/miniprogram). */
export const ROOT = path.join(__dirname, '..', 'miniprogram');

/** page loads and attaches a page (written as a Component) by its name. */
export function page(name: string) {
  const id = simulate.load(path.join(ROOT, 'pages', name, 'index'), { rootPath: ROOT });
  const comp = simulate.render(id);
  comp.attach((dom.window.document as unknown as Document).createElement('parent-wrapper'));
  return comp;
}

/** reset empties the fake phone: storage, sent requests, network on. */
export function reset(): void {
  const fresh = newState();
  Object.assign(st, fresh);
}

/** until waits for cond (the pages' calls are asynchronous), at most ms. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
