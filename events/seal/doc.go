// Package seal makes the ledger tamper-evident: it keeps an RFC 6962 Merkle
// tree over the ledger stream in stream order, stores it as tiles, and
// publishes signed checkpoints of it.
//
// Leaf i of the tree is the event at stream sequence i+1; its leaf hash is
// SHA-256(0x00 || canonical bytes) (RFC 6962 §2.1, tlog.RecordHash). A
// checkpoint is the tree size and root hash in the C2SP tlog-checkpoint format
// (https://c2sp.org/tlog-checkpoint), signed as a C2SP signed note
// (https://c2sp.org/signed-note) with Ed25519, so that standard tools read
// it. Inclusion and consistency proofs are RFC 6962 §2.1.1 and §2.1.2 proofs
// as computed by golang.org/x/mod/sumdb/tlog.
//
// The package has three parts: the Sealer (one active writer per ledger,
// extending the tree as events arrive), the Prover (read side, any number of
// replicas) and the client-side checks VerifyInclusion and VerifyConsistency,
// which need nothing but a checkpoint.
//
// Storage, all in JetStream next to the ledger stream (names are defaults):
//
//	KV bucket "ledger_tiles"      tiles of height 8 (see Tiles)
//	  tile/8/<L>/<NNN>            a full tile: 256 hashes, written once
//	  tile/8/<L>/<NNN>.p          the partial tile at that position, widest so far
//	stream "LEDGER_SEAL"          signed checkpoint notes, one per message,
//	  subject "seal.checkpoint"   DenyDelete, DenyPurge, fenced appends
//	KV bucket "leases"            key "seal.<ledger stream>": the active sealer
//
// The order of writes makes every crash harmless: tiles for a tree size are
// written before the checkpoint of that size is published, tiles are content
// at fixed positions (rewriting them is idempotent), and a sealer resumes
// from the latest published checkpoint.
package seal
