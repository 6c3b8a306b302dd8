// The last pass token of each household member, kept on the phone so the
// pass shows without network until it expires; dropped when the backend
// says the pass is revoked or the status red.
import { PassToken } from './api';

const key = (person: string) => 'onebook.pass.' + person;

export function keepPass(person: string, p: PassToken): void {
  wx.setStorageSync(key(person), p);
}

export function lastPass(person: string): PassToken | null {
  return (wx.getStorageSync(key(person)) as PassToken | '') || null;
}

export function dropPass(person: string): void {
  wx.removeStorageSync(key(person));
}

/** refreshDelay is how long to wait before fetching a new token: 10 minutes before it expires, at least 5 s. */
export function refreshDelay(notAfter: string, now: number): number {
  return Math.max(5000, Date.parse(notAfter) - now - 10 * 60 * 1000);
}
