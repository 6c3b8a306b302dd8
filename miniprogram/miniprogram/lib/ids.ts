// Ids the phone makes: scan ids and idempotency keys. They must be unique,
// not secret: time in milliseconds and random bits, [0-9a-z-] only.
let counter = 0;

export function newId(prefix = ''): string {
  counter = (counter + 1) % 1296;
  let r = '';
  for (let i = 0; i < 12; i++) r += Math.floor(Math.random() * 36).toString(36);
  return prefix + Date.now().toString(36) + '-' + counter.toString(36).padStart(2, '0') + r;
}
