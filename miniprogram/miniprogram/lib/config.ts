// Configuration, not code: the backend's URL and the ledger's verifier key
// are kept in storage (set on the settings page, or by the operator in
// WeChat DevTools' storage panel) and default to the development backend
// (go run ./backend --demo on this machine).

export interface Config {
  backend: string; // e.g. https://onebook.example.org, no trailing slash
  verifierKey: string; // signed-note verifier key of the checkpoints (GET /ledger/key, checked out of band)
}

const KEY = 'onebook.config';
const DEFAULTS: Config = { backend: 'http://127.0.0.1:8080', verifierKey: '' };

export function getConfig(): Config {
  const stored = wx.getStorageSync(KEY) as Partial<Config> | '';
  return { ...DEFAULTS, ...(stored || {}) };
}

export function setConfig(c: Partial<Config>): Config {
  const next = { ...getConfig(), ...c };
  next.backend = next.backend.trim().replace(/\/+$/, '');
  next.verifierKey = next.verifierKey.trim();
  wx.setStorageSync(KEY, next);
  return next;
}
