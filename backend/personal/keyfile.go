package personal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of the master key and of the index key: 256 bits.
const KeySize = 32

// LoadOrCreateMasterKey reads a 32-byte key from the file at path, or, if
// there is no such file, creates one (mode 0600, its directory 0700 if
// new) with a fresh random key. It serves the index key file as well.
//
// The file holds the key as 64 hex digits and a newline, so it can be
// copied into a secret store as text (`openssl rand -hex 32` makes one).
// Creation is atomic: the key is written to a temporary file
// and linked into place, so two backends starting at once on one data
// directory agree on one key, and a crash never leaves half a key behind.
// Losing this file loses every person's data; back it up apart from the
// NATS data.
func LoadOrCreateMasterKey(path string) ([]byte, error) {
	if key, err := readKeyFile(path); !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return readKeyFile(path) // another process was quicker: use its key
	} else if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new name durable
		d.Close()
	}
	return key, nil
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // fs.ErrNotExist stays visible to the caller
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("key file %s: want %d hex digits", path, 2*KeySize)
	}
	return key, nil
}
