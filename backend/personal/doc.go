// Package personal keeps the personal data of residents (name, resident
// identity number, mobile phone number) out of the ledger in clear, while
// leaving it findable, maskable and erasable.
//
// The ledger is append-only and every event is hashed into the Merkle seal,
// so nothing written to it can ever be removed. Personal data therefore goes
// in only as a [Sealed] value:
//
//   - Ciphertext is AES-256-GCM under a data key of that one person; the
//     additional data binds it to the person id and the key id, so it
//     cannot be replayed as someone else's data.
//   - Each data key is stored outside the ledger, in a JetStream KV bucket,
//     wrapped (AES-256-GCM) under a master key-encryption key that never
//     leaves the backend. This is envelope encryption: the master key can
//     be kept in a secret store, and one person's key can be destroyed
//     without touching anyone else's.
//   - IDIndex, PhoneIndex and Last4Index are blind indexes, HMAC-SHA256
//     under a separate index key, so a resident can be found by ID number or
//     phone (and the last four ID digits checked at a gate) without
//     decrypting anything.
//
// Erasure is crypto-shredding: [Vault.Shred] destroys the person's wrapped
// key, after which every ciphertext sealed for that person is noise, while
// every hash in the ledger still verifies. The key's message is deleted
// securely (the NATS server overwrites it in its files) before it is purged
// from the bucket, because a purge alone leaves the bytes on disk until the
// server rewrites the block. What this cannot reach: copies outside the
// live store files (backups and snapshots of the data directory, the raft
// log of a clustered stream until it is compacted, blocks a flash drive
// remapped). Those copies are still wrapped under the master key, so they
// are unreadable to anyone who does not also hold the master key.
//
// A blind index is a keyed hash of a value with little entropy (an ID
// number, a phone number): whoever holds the index key can confirm a guess,
// so the index key is as secret as the master key.
//
// The validation half of the package ([ParseIDNumber], [ParsePhone],
// [ParseName]) and the masks ([MaskName], [MaskID], [MaskPhone]) are pure
// functions. Errors are *events.Error with code invalid and the offending
// field; their messages never repeat the input, because inputs here are
// personal data and error messages end up in logs.
package personal
