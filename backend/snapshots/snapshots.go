// Package snapshots keeps the latest snapshot of each in-memory decision
// state in the JetStream object store bucket "snapshots", so that a replica
// restores its states and follows the ledger from where a snapshot ends
// instead of from the first event.
//
// # Format
//
// One object per state, named for it. Its bytes are a header line
//
//	onebook-snapshot/1 <state> <seq>\n
//
// (Version, the state's name, the last ledger sequence the snapshot covers)
// followed by a 12-byte nonce and the state's snapshot sealed with AES-256-GCM
// under the key in the data directory (snapshot.key); the header line is the
// additional data, so that neither name nor sequence can be changed without
// the object failing to open. The state's own bytes carry the state's format
// version (each state's Restore refuses another).
//
// # Personal data
//
// Snapshots hold sealed personal blobs, blind indexes and person ids, hence
// the encryption. An erasure destroys persons' keys and must not be undone
// by an older copy of a state: the backend deletes every snapshot when an
// erasure is recorded (Discard), and refuses any snapshot covering less of the
// ledger than the erasure, so the next one is taken from states that have
// applied it.
package snapshots

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
)

// Bucket is the object store bucket of the snapshots.
const Bucket = "snapshots"

// Version is the format version of a snapshot object (the header and the
// encryption), written in each object's header line.
const Version = 1

const magic = "onebook-snapshot/"

// Config configures Open.
type Config struct {
	Replicas int    // JetStream replicas of the bucket
	Key      []byte // 32-byte AES-256 key
}

// Store reads and writes snapshots.
type Store struct {
	obj  jetstream.ObjectStore
	aead cipher.AEAD
}

// Open opens (creating if needed) the snapshot bucket.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	aead, err := newAEAD(cfg.Key)
	if err != nil {
		return nil, err
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: Bucket, Description: "snapshots of the in-memory decision states (encrypted)",
		Storage: jetstream.FileStorage, Replicas: max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot bucket: %w", err)
	}
	return &Store{obj: obj, aead: aead}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("snapshot key: %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key[:32])
	if err != nil {
		return nil, fmt.Errorf("snapshot key: %w", err)
	}
	return cipher.NewGCM(block)
}

// Put stores data, the snapshot of state name covering the ledger up to seq,
// replacing the previous one.
func (s *Store) Put(ctx context.Context, name string, seq uint64, data []byte) error {
	b, err := s.seal(name, seq, data)
	if err != nil {
		return err
	}
	if name != discarded {
		if err := s.aboveFloor(ctx, name, seq); err != nil {
			return err
		}
	}
	if _, err := s.obj.PutBytes(ctx, name, b); err != nil {
		return fmt.Errorf("snapshot %s: %w", name, err)
	}
	if name == discarded {
		return nil
	}
	// An erasure recorded while this snapshot was taken or written:
	// Discard may have run between the check above and the write.
	if err := s.aboveFloor(ctx, name, seq); err != nil {
		if derr := s.obj.Delete(ctx, name); derr != nil && !errors.Is(derr, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("%w; and deleting it: %v", err, derr)
		}
		return err
	}
	return nil
}

// aboveFloor is an error if a snapshot covering seq is older than the last
// erasure.
func (s *Store) aboveFloor(ctx context.Context, name string, seq uint64) error {
	f, err := s.floor(ctx)
	if err != nil {
		return err
	}
	if seq < f {
		return fmt.Errorf("snapshot %s at %d: older than the last erasure (at ledger size %d)", name, seq, f)
	}
	return nil
}

// Get returns the latest snapshot of state name and the sequence it
// covers: a CodeNotFound error if there is none, another error if it cannot
// be read or opened (another version, another key, tampered).
func (s *Store) Get(ctx context.Context, name string) (data []byte, seq uint64, err error) {
	b, err := s.obj.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, 0, &events.Error{Code: events.CodeNotFound, Field: "snapshot", Message: "no snapshot of " + name, Err: err}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	data, seq, err = s.open(name, b)
	if err != nil {
		return nil, 0, err
	}
	if err := s.aboveFloor(ctx, name, seq); err != nil {
		return nil, 0, err
	}
	return data, seq, nil
}

// Names lists the states that have a snapshot.
func (s *Store) Names(ctx context.Context) ([]string, error) {
	infos, err := s.obj.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	var out []string
	for _, i := range infos {
		if !i.Deleted && i.Name != discarded {
			out = append(out, i.Name)
		}
	}
	return out, nil
}

// discarded names the object that records the ledger size at the last
// erasure: a snapshot covering less is older than the erasure, and is
// neither read nor kept.
const discarded = "discarded"

// Discard deletes every snapshot and refuses, from now on, every snapshot
// covering fewer than seq events (the ledger's size once an erasure is
// recorded): no copy of a state from before an erasure may remain or come
// back, not even one a writer on another replica took just before and
// stores just after.
func (s *Store) Discard(ctx context.Context, seq uint64) error {
	if prev, err := s.floor(ctx); err != nil {
		return err
	} else if prev > seq {
		seq = prev
	}
	if err := s.Put(ctx, discarded, seq, nil); err != nil {
		return err
	}
	names, err := s.Names(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == discarded {
			continue
		}
		if err := s.obj.Delete(ctx, n); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("delete snapshot %s: %w", n, err)
		}
	}
	return nil
}

// floor is the smallest sequence a snapshot may cover (Discard).
func (s *Store) floor(ctx context.Context) (uint64, error) {
	b, err := s.obj.GetBytes(ctx, discarded)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("snapshots: %w", err)
	}
	_, seq, err := s.open(discarded, b)
	return seq, err
}

func header(name string, seq uint64) []byte {
	return []byte(magic + strconv.Itoa(Version) + " " + name + " " + strconv.FormatUint(seq, 10) + "\n")
}

func (s *Store) seal(name string, seq uint64, data []byte) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, " \n") {
		return nil, fmt.Errorf("snapshot name %q: empty or with a space", name)
	}
	h := header(name, seq)
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("snapshot nonce: %w", err)
	}
	out := append(append([]byte{}, h...), nonce...) // dst must not overlap the additional data
	return s.aead.Seal(out, nonce, data, h), nil
}

func (s *Store) open(name string, b []byte) ([]byte, uint64, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 || !bytes.HasPrefix(b, []byte(magic)) {
		return nil, 0, fmt.Errorf("snapshot %s: no header line", name)
	}
	h := b[:i+1]
	f := strings.Fields(strings.TrimPrefix(string(b[:i]), magic))
	if len(f) != 3 {
		return nil, 0, fmt.Errorf("snapshot %s: malformed header %q", name, h)
	}
	if f[0] != strconv.Itoa(Version) {
		return nil, 0, fmt.Errorf("snapshot %s: format version %s, this build reads %d", name, f[0], Version)
	}
	if f[1] != name {
		return nil, 0, fmt.Errorf("snapshot %s: header names %q", name, f[1])
	}
	seq, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot %s: sequence %q: %w", name, f[2], err)
	}
	rest := b[i+1:]
	n := s.aead.NonceSize()
	if len(rest) < n+s.aead.Overhead() {
		return nil, 0, fmt.Errorf("snapshot %s: truncated", name)
	}
	data, err := s.aead.Open(nil, rest[:n], rest[n:], h)
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot %s: does not open with this snapshot key: %w", name, err)
	}
	return data, seq, nil
}
