// Package events is what happened: the envelope of an event, its canonical
// bytes, the registry of typed payloads, sealing of personal fields, the
// ledger's interfaces and its error vocabulary. Every service appends
// events through it; every view and every check reads them through it.
//
// # The invariants of the ledger
//
// Everything else in onebook rests on these, and the tests of this package
// and of events/ledger and events/seal keep them:
//
//  1. The ledger is append-only. An event, once acknowledged, is never
//     changed or removed: the stream refuses deletes and purges, and the
//     Merkle seal (events/seal) makes any rewrite detectable by anyone
//     holding an older signed checkpoint.
//  2. Positions are stream sequences, 1-based and gap-free; the event at
//     sequence n is leaf n-1 of the Merkle tree (Recorded.LeafIndex).
//  3. An event's bytes are canonical: RFC 8785 JSON of the envelope
//     (Event.Canonical), at most MaxEventSize bytes, so that its leaf hash
//     is a function of its content alone and every reader agrees on it.
//  4. An event id is unique. Appending an id already recorded is answered
//     with its first position and CodeDuplicate: retries never record
//     twice. Events of one aggregate are totally ordered, and a command
//     that expects the aggregate's last position (Expect) is refused with
//     CodeConflict if another command got there first.
//  5. Payloads are typed and versioned (Registry): a payload is validated
//     before it is appended, unknown fields are refused when it is read,
//     and an older schema version is upcast when read, never rewritten.
//  6. Public by design, or sealed. Every top-level payload field is tagged
//     disclose:"public" or disclose:"sealed"; sealed fields leave the
//     process only inside one AES-256-GCM box per event, under a fresh
//     data key wrapped by the key of the event's subject (a person, a case
//     card, a service). Destroying a person's key (erasure) makes every
//     sealed field about them unreadable while the ledger still verifies:
//     the leaf hashes cover the box, not its contents.
//  7. Ids in clear do not link one person across domains: a subject
//     reference is itself encrypted, and pseudonyms differ per domain.
//  8. Calendar days are days in China Standard Time (Day), for every
//     service and every view alike.
//
// In-memory states and projections are folds of the ledger: they may be
// dropped and rebuilt from it at any time, and ops verify proves that what
// they hold is what the ledger says.
package events
