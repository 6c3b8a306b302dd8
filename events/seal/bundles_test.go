package seal

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// countingReader is a ledger of n events of size bytes each that counts
// the events its scans read.
type countingReader struct {
	n, size int
	read    int
}

func (r *countingReader) Size(context.Context) (uint64, error) { return uint64(r.n), nil }

func (r *countingReader) Read(ctx context.Context, seq uint64) (events.Recorded, error) {
	return events.Recorded{Seq: seq, Raw: r.raw(seq)}, nil
}

func (r *countingReader) Scan(ctx context.Context, from, to uint64, fn func(events.Recorded) error) error {
	for seq := from; seq <= to && seq <= uint64(r.n); seq++ {
		r.read++
		if err := fn(events.Recorded{Seq: seq, Raw: r.raw(seq)}); err != nil {
			return err
		}
	}
	return nil
}

func (r *countingReader) raw(seq uint64) []byte {
	b := []byte(fmt.Sprintf("event %08d ", seq))
	return append(b, bytes.Repeat([]byte{'.'}, r.size-len(b))...)
}

// TestBundles: a bundle's bytes are its entries, each after its length; a
// full bundle is read from the ledger once and served from memory after,
// a partial one every time; the cache stays within its byte budget,
// dropping the least recently served bundles first.
func TestBundles(t *testing.T) {
	ctx := context.Background()
	const size = 100 // bytes per event: a full bundle is 256 × 102 bytes
	full := int64(256 * (size + 2))
	tests := []struct {
		name       string
		max        int64
		reads      []int64 // full bundles served, in order
		wantEvents int     // events read from the ledger
		wantKept   int     // bundles in the cache at the end
	}{
		{"the same bundle three times", 10 * full, []int64{0, 0, 0}, 256, 1},
		{"three bundles, then again", 10 * full, []int64{0, 1, 2, 0, 1, 2}, 3 * 256, 3},
		{"budget of two: the oldest goes", 2 * full, []int64{0, 1, 2, 0}, 4 * 256, 2},
		{"recently served stays", 2 * full, []int64{0, 1, 0, 2, 0}, 3 * 256, 2},
		{"a bundle larger than the budget is not kept", full - 1, []int64{0, 0}, 2 * 256, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &countingReader{n: 4 * 256, size: size}
			b := NewBundles(r, tt.max)
			for _, n := range tt.reads {
				got, err := b.Read(ctx, tlog.Tile{H: TileHeight, L: -1, N: n, W: 256})
				if err != nil {
					t.Fatal(err)
				}
				var want []byte
				for seq := uint64(n*256 + 1); seq <= uint64(n*256+256); seq++ {
					want, _ = AppendEntry(want, r.raw(seq))
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("bundle %d: %d bytes, want %d", n, len(got), len(want))
				}
			}
			if r.read != tt.wantEvents {
				t.Errorf("read %d events from the ledger, want %d", r.read, tt.wantEvents)
			}
			if got := b.Size(); got != int64(tt.wantKept)*full || got > tt.max {
				t.Errorf("cache holds %d bytes, want %d bundles (%d bytes) within %d", got, tt.wantKept, int64(tt.wantKept)*full, tt.max)
			}
		})
	}
	// Partial bundles grow: never cached.
	r := &countingReader{n: 300, size: size}
	b := NewBundles(r, 0)
	for range 2 {
		got, err := b.Read(ctx, tlog.Tile{H: TileHeight, L: -1, N: 1, W: 44})
		if err != nil || len(got) != 44*(size+2) {
			t.Fatalf("partial bundle: %d bytes, %v", len(got), err)
		}
	}
	if r.read != 88 || b.Size() != 0 {
		t.Errorf("partial bundle: read %d events, cache %d bytes; want 88 and 0", r.read, b.Size())
	}
	// A ledger that gives fewer events than the bundle holds (a replica
	// behind) is an error, neither served nor kept.
	short := &countingReader{n: 300, size: size}
	b = NewBundles(short, 0)
	if got, err := b.Read(ctx, tlog.Tile{H: TileHeight, L: -1, N: 1, W: 256}); events.ErrorCode(err) != events.CodeUnavailable || got != nil || b.Size() != 0 {
		t.Errorf("short bundle: %d bytes, %v, cache %d bytes; want unavailable, nothing kept", len(got), err, b.Size())
	}
}
