// Configuration, not code: the backend's URL, the ledger's verifier key and
// the witness policy are kept in storage (set on the settings page, or by the operator in
// WeChat DevTools' storage panel) and default to the development backend
// (go run ./backend --demo on this machine).

export interface Config {
  backend: string; // e.g. https://onebook.example.org, no trailing slash
  verifierKey: string; // signed-note verifier key of the checkpoints (GET /ledger/key, checked out of band)
  // The witness policy: a checkpoint counts only if at least witnessQuorum
  // of these witnesses (their cosignature/v1 verifier keys, obtained from
  // them out of band) cosigned it. None and 0: onebook's signature alone.
  witnesses: string[];
  witnessQuorum: number;
}

const KEY = 'onebook.config';
const DEFAULTS: Config = { backend: 'http://127.0.0.1:8080', verifierKey: '', witnesses: [], witnessQuorum: 0 };

export function getConfig(): Config {
  const stored = wx.getStorageSync(KEY) as Partial<Config> | '';
  return { ...DEFAULTS, ...(stored || {}) };
}

export function setConfig(c: Partial<Config>): Config {
  const next = { ...getConfig(), ...c };
  next.backend = next.backend.trim().replace(/\/+$/, '');
  next.verifierKey = next.verifierKey.trim();
  next.witnesses = next.witnesses.map((k) => k.trim()).filter((k) => k !== '');
  next.witnessQuorum = Math.max(0, Math.min(Math.floor(next.witnessQuorum) || 0, next.witnesses.length));
  wx.setStorageSync(KEY, next);
  return next;
}
