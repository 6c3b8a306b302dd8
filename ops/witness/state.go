package witness

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events/seal"
)

// The state directory holds, per log, a directory named for its origin
// (path-escaped) with:
//
//	checkpoint                     the latest checkpoint cosigned: the log's
//	                               signed note as submitted
//	evidence-<kind>-<size>-<root>.txt  a refused fork or rollback: both
//	                               checkpoints and the whole request
//
// A file named checkpoint directly in the state directory is the state of
// the older pull-mode witness (ops witness run): the log's note with the
// witness's plain Ed25519 signature. A log with no state of its own starts
// from it, so a witness that moves to this protocol keeps refusing forks
// of what it cosigned before.
const stateFile = "checkpoint"

// open loads the log's state, or imports the pull-mode state, or starts
// empty. A state file that does not verify with the log's key stops the
// witness: starting over would let it cosign a fork of what it cosigned.
func (ls *logState) open(root string, log *slog.Logger) error {
	if err := os.MkdirAll(ls.dir, 0o700); err != nil {
		return fmt.Errorf("state of %s: %w", ls.Origin, err)
	}
	path := filepath.Join(ls.dir, stateFile)
	msg, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		legacy := filepath.Join(root, stateFile)
		msg, err = os.ReadFile(legacy)
		if errors.Is(err, os.ErrNotExist) {
			return nil // never cosigned this log
		}
		if err != nil {
			return fmt.Errorf("pull-mode state: %w", err)
		}
		if origin, _, _ := strings.Cut(string(msg), "\n"); origin != ls.Origin {
			return nil // the pull-mode state of another log
		}
		cp, err := ls.verify(msg)
		if err != nil {
			return fmt.Errorf("pull-mode state %s: %w", legacy, err)
		}
		if err := writeState(ls.dir, msg); err != nil {
			return fmt.Errorf("import the pull-mode state of %s: %w", ls.Origin, err)
		}
		log.Info("imported the pull-mode witness state: forks of it stay refused", "origin", ls.Origin, "size", cp.Size, "from", legacy)
	} else if err != nil {
		return fmt.Errorf("state of %s: %w", ls.Origin, err)
	}
	cp, err := ls.verify(msg)
	if err != nil {
		return fmt.Errorf("state %s: %w", path, err)
	}
	ls.have, ls.cp, ls.note = true, cp, msg
	return nil
}

// verify opens a stored checkpoint note with the log's key.
func (ls *logState) verify(msg []byte) (seal.Checkpoint, error) {
	cp, _, err := seal.OpenCheckpoint(msg, note.VerifierList(ls.Key), ls.Origin)
	if err != nil {
		return seal.Checkpoint{}, fmt.Errorf("not a checkpoint of %s signed by its key: %w", ls.Origin, err)
	}
	return cp, nil
}

// writeState replaces dir's state file atomically and durably: a
// temporary file, synced, renamed over the old one, the directory synced.
func writeState(dir string, msg []byte) error {
	f, err := os.CreateTemp(dir, "."+stateFile+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename there is nothing to remove
	if _, err := f.Write(msg); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, stateFile)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeEvidence writes an evidence file unless one of that name exists,
// and returns its path.
func writeEvidence(dir, name string, b []byte) (string, error) {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return path, nil
	}
	if err != nil {
		return "", err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, syncDir(dir)
}
