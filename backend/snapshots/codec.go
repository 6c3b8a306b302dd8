package snapshots

import (
	"bytes"
	"cmp"
	"encoding/gob"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/onebook/onebook/events"
)

// Encode writes a state's snapshot: its format version, then v, a struct
// of exported fields mirroring the state. Maps must be given as slices
// sorted by key (Sorted), so that equal states give equal bytes.
func Encode(version int, v any) ([]byte, error) {
	var b bytes.Buffer
	enc := gob.NewEncoder(&b)
	if err := enc.Encode(version); err != nil {
		return nil, fmt.Errorf("snapshot version: %w", err)
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return b.Bytes(), nil
}

// Decode reads what Encode wrote into v, refusing another format version.
func Decode(b []byte, version int, v any) error {
	dec := gob.NewDecoder(bytes.NewReader(b))
	var got int
	if err := dec.Decode(&got); err != nil {
		return fmt.Errorf("snapshot version: %w", err)
	}
	if got != version {
		return fmt.Errorf("snapshot of format version %d, this build reads %d", got, version)
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// Entry is one entry of a map, in a snapshot.
type Entry[K, V any] struct {
	K K
	V V
}

// Sorted returns m's entries sorted by key.
func Sorted[K cmp.Ordered, V any](m map[K]V) []Entry[K, V] {
	out := make([]Entry[K, V], 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Entry[K, V]{k, m[k]})
	}
	return out
}

// SortedFunc returns m's entries sorted by key with compare, for keys that
// are not ordered (structs).
func SortedFunc[K comparable, V any](m map[K]V, compare func(a, b K) int) []Entry[K, V] {
	out := make([]Entry[K, V], 0, len(m))
	for k, v := range m {
		out = append(out, Entry[K, V]{k, v})
	}
	slices.SortFunc(out, func(a, b Entry[K, V]) int { return compare(a.K, b.K) })
	return out
}

// Values returns m's values sorted by key, dereferenced.
func Values[K cmp.Ordered, V any](m map[K]*V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, *m[k])
	}
	return out
}

// Fill puts the entries of a decoded Sorted list back into m: the inverse
// of Sorted, for Restore.
func Fill[K comparable, V any](m map[K]V, es []Entry[K, V]) {
	for _, e := range es {
		m[e.K] = e.V
	}
}

// FillByID puts the values of a decoded Values list back into m under their
// ids: the inverse of Values, for Restore.
func FillByID[V any](m map[string]*V, vs []V, id func(*V) string) {
	for i := range vs {
		m[id(&vs[i])] = &vs[i]
	}
}

// Restore is the body of every state's Restore: it decodes b (Decode) into
// a fresh S and, holding l (the state's write lock), calls fill to put it
// in the state's maps; then it moves the state's position to seq, the
// sequence the snapshot covers, so that following resumes after it.
// Nothing of the state changes if b does not decode.
func Restore[S any](b []byte, version int, seq uint64, l sync.Locker, pos *events.Position, fill func(*S)) error {
	var snap S
	if err := Decode(b, version, &snap); err != nil {
		return err
	}
	l.Lock()
	fill(&snap)
	l.Unlock()
	pos.Restore(seq)
	return nil
}
