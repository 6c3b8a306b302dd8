// The gate a mini-program code names: GET /gates/{gate}/code makes a code
// that opens pages/checkin/index with scene = the gate id. WeChat hands the
// scene to the page URL-encoded; a plain link may say ?gate=.

/** gateOf reads the gate id from a page's load options. */
export function gateOf(options: Record<string, string | undefined>): string {
  const raw = options.scene !== undefined ? decodeURIComponent(options.scene) : options.gate || '';
  return raw.startsWith('g=') ? raw.slice(2) : raw;
}

/**
 * inviteOf reads a staff invite code from a page's load options: a
 * mini-program code made for an invite carries it as the scene ("i=CODE" or
 * the bare code), a link as ?code=.
 */
export function inviteOf(options: Record<string, string | undefined>): string {
  const raw = options.scene !== undefined ? decodeURIComponent(options.scene) : options.code || '';
  return (raw.startsWith('i=') ? raw.slice(2) : raw).trim().toUpperCase();
}
