// Errors in words a resident understands, on the field they belong to.
import { ApiError } from './api';
import { T } from './strings';

export interface FieldErrors {
  form?: string; // not tied to one field
  fields: Record<string, string>; // top-level field → words
  members: Record<number, Record<string, string>>; // members[i].field → words
}

/** fieldErrors maps an API error's field ("community", "members[1].id_number") to the form. */
export function fieldErrors(err: unknown): FieldErrors {
  const out: FieldErrors = { fields: {}, members: {} };
  if (!(err instanceof ApiError)) {
    out.form = T.errors.internal;
    return out;
  }
  const words = err.field === 'id_number' || /id_number$/.test(err.field || '') ? T.idProblems.check : T.errors[err.code] || T.errors.internal;
  const m = /^members\[(\d+)\]\.(\w+)$/.exec(err.field || '');
  if (m) {
    out.members[Number(m[1])] = { [m[2]]: words };
  } else if (err.field) {
    out.fields[err.field] = words;
  } else {
    out.form = T.errors[err.code] || T.errors.internal;
  }
  return out;
}

/** errorText is the one line shown for a failed call. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return T.errors[err.code] || T.errors.internal;
  return T.errors.internal;
}
