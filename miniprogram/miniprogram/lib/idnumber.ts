// GB 11643-1999 citizen ID numbers, checked before they leave the phone:
// 6-digit region, birth date YYYYMMDD, 3-digit sequence, and the
// ISO 7064 MOD 11-2 check character.

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

export type IdProblem = 'length' | 'chars' | 'birth' | 'check';

/** checkIdNumber returns what is wrong with s, or null if it is a valid number. */
export function checkIdNumber(s: string, today: Date = new Date()): IdProblem | null {
  if (s.length !== 18) return 'length';
  if (!/^[0-9]{17}[0-9X]$/.test(s)) return 'chars';
  const y = Number(s.slice(6, 10));
  const m = Number(s.slice(10, 12));
  const d = Number(s.slice(12, 14));
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || birth.getUTCFullYear() !== y || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d || birth.getTime() > today.getTime()) {
    return 'birth';
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (s.charCodeAt(i) - 48) * WEIGHTS[i];
  return CHECK[sum % 11] === s[17] ? null : 'check';
}

/** normalizeIdNumber trims and upper-cases a typed number (a lower-case x is common). */
export function normalizeIdNumber(s: string): string {
  return s.trim().toUpperCase();
}
