package snapshots

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger/natstest"
)

func TestStore(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := bytes.Repeat([]byte{7}, 32)
	s, err := Open(ctx, js, Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, js, Config{Key: bytes.Repeat([]byte{8}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "passes"); events.ErrorCode(err) != events.CodeNotFound {
		t.Fatalf("no snapshot yet: %v", err)
	}
	secret := []byte("sealed personal blob p-1")
	if err := s.Put(ctx, "passes", 41, secret); err != nil {
		t.Fatal(err)
	}
	raw, err := s.obj.GetBytes(ctx, "passes")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("onebook-snapshot/1 passes 41\n")) || bytes.Contains(raw, secret) {
		t.Fatalf("stored bytes: %q", raw)
	}
	tamper := func(f func([]byte) []byte) func() error {
		return func() error {
			if _, err := s.obj.PutBytes(ctx, "passes", f(bytes.Clone(raw))); err != nil {
				return err
			}
			_, _, err := s.Get(ctx, "passes")
			return err
		}
	}
	for _, c := range []struct {
		name string
		get  func() error
		want string // "" : no error
	}{
		{"as written", func() error {
			b, seq, err := s.Get(ctx, "passes")
			if err == nil && (seq != 41 || !bytes.Equal(b, secret)) {
				t.Errorf("got %q at %d", b, seq)
			}
			return err
		}, ""},
		{"another key", func() error { _, _, err := other.Get(ctx, "passes"); return err }, "does not open"},
		{"sequence changed", tamper(func(b []byte) []byte { return bytes.Replace(b, []byte(" 41\n"), []byte(" 99\n"), 1) }), "does not open"},
		{"another version", tamper(func(b []byte) []byte { return bytes.Replace(b, []byte("/1 "), []byte("/2 "), 1) }), "format version 2"},
		{"another state's", tamper(func(b []byte) []byte { return bytes.Replace(b, []byte(" passes "), []byte(" alerts "), 1) }), "header names"},
		{"truncated", tamper(func(b []byte) []byte { return b[:len("onebook-snapshot/1 passes 41\n")+5] }), "truncated"},
		{"no header", tamper(func(b []byte) []byte { return b[30:] }), "no header"},
	} {
		err := c.get()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}

	// Discard: every snapshot goes, and none older than the erasure comes
	// back, whoever writes it.
	for _, n := range []string{"passes", "accounts"} {
		if err := s.Put(ctx, n, 50, secret); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Discard(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if names, err := s.Names(ctx); err != nil || len(names) != 0 {
		t.Fatalf("after Discard: %v %v", names, err)
	}
	if err := s.Put(ctx, "passes", 59, secret); err == nil || !strings.Contains(err.Error(), "older than the last erasure") {
		t.Fatalf("put of a snapshot from before the erasure: %v", err)
	}
	if names, _ := s.Names(ctx); len(names) != 0 {
		t.Fatalf("a refused snapshot was kept: %v", names)
	}
	if err := s.Discard(ctx, 10); err != nil { // the floor never goes down
		t.Fatal(err)
	}
	if err := s.Put(ctx, "passes", 59, secret); err == nil {
		t.Fatal("the floor went down")
	}
	if err := s.Put(ctx, "passes", 60, secret); err != nil {
		t.Fatal(err)
	}
	if _, seq, err := s.Get(ctx, "passes"); err != nil || seq != 60 {
		t.Fatalf("snapshot after the erasure: %d %v", seq, err)
	}
}

func TestCodec(t *testing.T) {
	type mirror struct {
		A []Entry[string, int]
		B []Entry[int32, []string]
	}
	m := map[string]int{"b": 2, "a": 1, "c": 3}
	b1, err := Encode(3, mirror{A: Sorted(m), B: Sorted(map[int32][]string{5: {"x"}, -1: nil})})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 { // map order is random: the bytes must not be
		b2, _ := Encode(3, mirror{A: Sorted(m), B: Sorted(map[int32][]string{-1: nil, 5: {"x"}})})
		if !bytes.Equal(b1, b2) {
			t.Fatal("equal maps encode to different bytes")
		}
	}
	var got mirror
	if err := Decode(b1, 3, &got); err != nil || len(got.A) != 3 || got.A[0].K != "a" || got.B[0].K != -1 || got.B[1].V[0] != "x" {
		t.Fatalf("decode: %+v %v", got, err)
	}
	if err := Decode(b1, 4, &got); err == nil || !strings.Contains(err.Error(), "format version 3") {
		t.Fatalf("another version: %v", err)
	}
	if err := Decode(b1[:len(b1)/2], 3, &got); err == nil {
		t.Fatal("truncated snapshot decoded")
	}
}

// TestRestore: a snapshot that decodes fills the state under its lock and
// moves its position to the snapshot's sequence; one that does not (another
// version, truncated) leaves the state and its position as they were.
func TestRestore(t *testing.T) {
	type mirror struct{ A []Entry[string, int] }
	good, err := Encode(1, mirror{A: Sorted(map[string]int{"a": 1, "b": 2})})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		b       []byte
		version int
		wantErr bool
		wantSeq uint64
		wantLen int
	}{
		{"decodes", good, 1, false, 40, 2},
		{"another version", good, 2, true, 0, 0},
		{"truncated", good[:len(good)-3], 1, true, 0, 0},
		{"empty", nil, 1, true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			pos := events.NewPosition(&mu, "test")
			state := map[string]int{}
			locked := false
			err := Restore(tt.b, tt.version, 40, &mu, pos, func(s *mirror) {
				locked = !mu.TryLock()
				Fill(state, s.A)
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if pos.Seq() != tt.wantSeq || len(state) != tt.wantLen {
				t.Errorf("position %d, %d entries; want %d, %d", pos.Seq(), len(state), tt.wantSeq, tt.wantLen)
			}
			if !tt.wantErr && !locked {
				t.Error("fill ran without the state's lock")
			}
		})
	}
}
