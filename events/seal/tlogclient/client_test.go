package tlogclient_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger/natstest"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/sealtest"
	"github.com/onebook/onebook/events/seal/tlogclient"
)

const (
	origin = "onebook.test/p/31"
	region = events.Region("31")
	prefix = "/p/31"
)

// sizes are the tree sizes the fixture log is sealed at: one leaf, both
// sides of the first 256-entry bundle boundary, the second boundary, and
// a last bundle that is partial (600 = 2·256 + 88).
var sizes = []uint64{1, 255, 256, 257, 512, 600}

// fixture is a log sealed at each of sizes, with its checkpoints by size.
type fixture struct {
	ctx context.Context
	log *sealtest.Log
	cps map[uint64]seal.Checkpoint
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	_, js := natstest.Start(t).Connect()
	f := &fixture{ctx: ctx, log: sealtest.Open(t, js, sealtest.Key(t, origin)), cps: map[uint64]seal.Checkpoint{}}
	f.cps[0] = seal.Checkpoint{Origin: origin, Hash: tlog.Hash(sha256.Sum256(nil))} // RFC 6962 §2.1: the empty tree
	from := 0
	for _, n := range sizes {
		f.cps[n] = f.log.Grow(t, region, "a", from, int(n)).Checkpoint
		from = int(n)
	}
	return f
}

// last is the size of the fixture's latest checkpoint.
func last() uint64 { return sizes[len(sizes)-1] }

// serve serves the fixture log under prefix, with the response to GET
// <prefix>/<path> changed by change[path] (status and body) if there is one.
func (f *fixture) serve(t *testing.T, change map[string]func(status int, body []byte) (int, []byte)) *tlogclient.Client {
	t.Helper()
	h := f.log.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		rec := httptest.NewRecorder()
		r2 := r.Clone(r.Context())
		r2.URL.Path = path
		h.ServeHTTP(rec, r2)
		status, body := rec.Code, rec.Body.Bytes()
		if fn := change[strings.TrimPrefix(path, "/")]; fn != nil {
			status, body = fn(status, bytes.Clone(body))
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return tlogclient.New(srv.URL+prefix, srv.Client())
}

func TestLatest(t *testing.T) {
	f := newFixture(t)
	c := f.serve(t, nil)
	msg, size, root, err := c.Latest(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := f.cps[last()]
	if size != want.Size || root != want.Hash {
		t.Fatalf("Latest = size %d root %x, want %d %x", size, root, want.Size, want.Hash)
	}
	other, _, err := seal.LoadSigner(sealtest.Key(t, origin)) // same origin, another key
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(f.log.Key)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := seal.Sign(want, other)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"served", msg, true},
		{"signed with another key", forged, false},
		{"signature line changed", bytes.Replace(msg, []byte("— "+origin+" "), []byte("— "+origin+" A"), 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp, _, err := seal.OpenCheckpoint(tc.msg, note.VerifierList(v), origin)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("OpenCheckpoint: %v", err)
			case tc.ok && cp != want:
				t.Fatalf("OpenCheckpoint = %+v, want %+v", cp, want)
			case !tc.ok && err == nil:
				t.Fatal("OpenCheckpoint accepted it")
			}
		})
	}
}

func TestProveInclusion(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ index, size uint64 }{
		{0, 1},
		{0, last()},
		{254, 255},
		{255, 256},
		{255, last()},
		{256, 257},
		{256, last()},
		{511, 512},
		{512, last()},
		{last() - 1, last()}, // the last leaf, in a partial bundle
	} {
		c := f.serve(t, nil)
		cp := f.cps[tc.size]
		leaf, proof, err := c.ProveInclusion(f.ctx, tc.index, tc.size)
		if err != nil {
			t.Fatalf("ProveInclusion(%d, %d): %v", tc.index, tc.size, err)
		}
		entry, err := c.Entry(f.ctx, tc.index, tc.size)
		if err != nil {
			t.Fatalf("Entry(%d, %d): %v", tc.index, tc.size, err)
		}
		if want := tlog.RecordHash(entry); leaf != want {
			t.Errorf("ProveInclusion(%d, %d) leaf %x, but the served entry hashes to %x", tc.index, tc.size, leaf, want)
		}
		if err := seal.VerifyInclusion(cp, tc.index, leaf, proof); err != nil {
			t.Errorf("ProveInclusion(%d, %d): %v", tc.index, tc.size, err)
		}
		if wantID := sealtest.Event(region, "a", int(tc.index)).ID; !bytes.Contains(entry, []byte(wantID)) {
			t.Errorf("Entry(%d, %d) = %s, want event %s", tc.index, tc.size, entry, wantID)
		}
	}
	c := f.serve(t, nil)
	if _, _, err := c.ProveInclusion(f.ctx, last(), last()); err == nil {
		t.Error("ProveInclusion of the leaf at the tree size succeeded")
	}
	if _, _, err := c.ProveInclusion(f.ctx, 0, last()+1); events.ErrorCode(err) != events.CodeNotFound {
		t.Errorf("ProveInclusion in a tree larger than the log's = %v, want not found", err)
	}
}

func TestProveConsistency(t *testing.T) {
	f := newFixture(t)
	c := f.serve(t, nil)
	for _, tc := range []struct{ old, new uint64 }{
		{0, 0},
		{0, 1},
		{0, last()},
		{1, 1},
		{1, 255},
		{255, 256},
		{256, 257},
		{255, 512},
		{257, 512},
		{512, 512},
		{1, last()},
		{256, last()},
		{last(), last()},
	} {
		proof, err := c.ProveConsistency(f.ctx, tc.old, tc.new)
		if err != nil {
			t.Fatalf("ProveConsistency(%d, %d): %v", tc.old, tc.new, err)
		}
		if err := seal.VerifyConsistency(f.cps[tc.old], f.cps[tc.new], proof); err != nil {
			t.Errorf("ProveConsistency(%d, %d): %v", tc.old, tc.new, err)
		}
		// The proof must say something: against another root of the
		// old size it fails (an empty tree has one root only).
		if tc.old > 0 && tc.old < tc.new {
			forged := f.cps[tc.old]
			forged.Hash[0] ^= 1
			if err := seal.VerifyConsistency(forged, f.cps[tc.new], proof); err == nil {
				t.Errorf("ProveConsistency(%d, %d) verifies against a forged old root", tc.old, tc.new)
			}
		}
	}
	if _, err := c.ProveConsistency(f.ctx, 2, 1); events.ErrorCode(err) != events.CodeInvalid {
		t.Errorf("ProveConsistency(2, 1) = %v, want invalid", err)
	}
}

// flip changes one bit of byte i of a response body.
func flip(i int) func(int, []byte) (int, []byte) {
	return func(status int, body []byte) (int, []byte) {
		body[i] ^= 1
		return status, body
	}
}

// cut drops the last n bytes of a response body.
func cut(n int) func(int, []byte) (int, []byte) {
	return func(status int, body []byte) (int, []byte) { return status, body[:len(body)-n] }
}

// dropLast drops the last entry of an entry bundle, leaving a bundle
// well formed but one entry short.
func dropLast(status int, body []byte) (int, []byte) {
	end := 0
	for next := 0; next < len(body); next += 2 + int(binary.BigEndian.Uint16(body[next:])) {
		end = next
	}
	return status, body[:end]
}

// fail answers with status instead.
func fail(status int) func(int, []byte) (int, []byte) {
	return func(int, []byte) (int, []byte) { return status, []byte(http.StatusText(status)) }
}

// checkedEntry is what an auditor does with an entry: fetch it and check
// it against an inclusion proof from the tiles and the checkpoint. The
// client does not authenticate entries itself (Bundle splits, callers
// hash), so a changed entry is refused here.
func checkedEntry(ctx context.Context, c *tlogclient.Client, cp seal.Checkpoint, index uint64) error {
	entry, err := c.Entry(ctx, index, cp.Size)
	if err != nil {
		return err
	}
	_, proof, err := c.ProveInclusion(ctx, index, cp.Size)
	if err != nil {
		return err
	}
	if err := seal.VerifyInclusion(cp, index, tlog.RecordHash(entry), proof); err != nil {
		return fmt.Errorf("%s entry %d: %w", c.URL(), index, err)
	}
	return nil
}

func TestTampering(t *testing.T) {
	f := newFixture(t)
	cp := f.cps[last()]
	// A checkpoint signed with the log's own key (a log lying about its
	// size) for more leaves than its tiles hold.
	grown := seal.Checkpoint{Origin: origin, Size: last() + 100, Hash: cp.Hash}
	tooBig, err := seal.Sign(grown, f.log.Signer)
	if err != nil {
		t.Fatal(err)
	}
	inclusion := func(index, size uint64) func(*tlogclient.Client) error {
		return func(c *tlogclient.Client) error {
			_, _, err := c.ProveInclusion(f.ctx, index, size)
			return err
		}
	}
	for _, tc := range []struct {
		name   string
		path   string // under the log's URL
		change func(int, []byte) (int, []byte)
		op     func(*tlogclient.Client) error
		code   events.Code
		names  string // the error names the log's URL followed by this
		forged bool   // op asks about the forged checkpoint's size
	}{
		{"hash changed in a full level-0 tile", "tile/0/000", flip(10 * tlog.HashSize),
			inclusion(3, last()), events.CodeInvalid, "", false},
		{"hash changed in the partial level-0 tile", "tile/0/002.p/88", flip(87*tlog.HashSize + 5),
			inclusion(last()-1, last()), events.CodeInvalid, "", false},
		{"hash changed in the level-1 tile", "tile/1/000.p/2", flip(0),
			inclusion(0, last()), events.CodeInvalid, "", false},
		{"hash changed, consistency proof", "tile/0/001", flip(3 * tlog.HashSize),
			func(c *tlogclient.Client) error { _, err := c.ProveConsistency(f.ctx, 300, last()); return err },
			events.CodeInvalid, "", false},
		{"tile short of one hash", "tile/0/001", cut(tlog.HashSize),
			inclusion(300, last()), events.CodeInvalid, "/tile/0/001", false},
		{"tile short of one byte", "tile/0/002.p/88", cut(1),
			inclusion(599, last()), events.CodeInvalid, "/tile/0/002.p/88", false},
		{"entry byte changed", "tile/entries/001", flip(100),
			func(c *tlogclient.Client) error { return checkedEntry(f.ctx, c, cp, 256) }, events.CodeInvalid, "", false},
		{"entry length changed", "tile/entries/001", flip(1),
			func(c *tlogclient.Client) error { return checkedEntry(f.ctx, c, cp, 300) }, events.CodeInvalid, "/tile/entries/001", false},
		{"bundle short of its last entry's end", "tile/entries/002.p/88", cut(1),
			func(c *tlogclient.Client) error { _, err := c.Bundle(f.ctx, 2, last()); return err }, events.CodeInvalid, "/tile/entries/002.p/88", false},
		{"bundle one entry short", "tile/entries/002.p/88", dropLast,
			func(c *tlogclient.Client) error { _, err := c.Entry(f.ctx, 599, last()); return err }, events.CodeInvalid, "/tile/entries/002.p/88", false},
		{"checkpoint larger than the tiles", "checkpoint", func(int, []byte) (int, []byte) { return http.StatusOK, tooBig },
			inclusion(last()-1, grown.Size), events.CodeNotFound, "/tile/0/002.p/188", true},
		{"checkpoint larger than the tiles, consistency", "checkpoint", func(int, []byte) (int, []byte) { return http.StatusOK, tooBig },
			func(c *tlogclient.Client) error { _, err := c.ProveConsistency(f.ctx, 256, grown.Size); return err },
			events.CodeNotFound, "/tile/0/002.p/188", true},
		{"checkpoint 404", "checkpoint", fail(http.StatusNotFound),
			func(c *tlogclient.Client) error { _, _, _, err := c.Latest(f.ctx); return err }, events.CodeNotFound, "/checkpoint", false},
		{"checkpoint 500", "checkpoint", fail(http.StatusInternalServerError),
			inclusion(0, 1), events.CodeUnavailable, "/checkpoint", false},
		{"tile 500", "tile/0/000", fail(http.StatusInternalServerError),
			inclusion(0, last()), events.CodeUnavailable, "/tile/0/000", false},
		{"tile 404", "tile/1/000.p/2", fail(http.StatusNotFound),
			func(c *tlogclient.Client) error { _, err := c.ProveConsistency(f.ctx, 1, last()); return err },
			events.CodeNotFound, "/tile/1/000.p/2", false},
		{"bundle 500", "tile/entries/000", fail(http.StatusInternalServerError),
			func(c *tlogclient.Client) error { _, err := c.Entry(f.ctx, 255, last()); return err }, events.CodeUnavailable, "/tile/entries/000", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Untampered, the same call succeeds: what fails below is the
			// change (the forged checkpoint's size is beyond the honest log).
			if !tc.forged {
				if err := tc.op(f.serve(t, nil)); err != nil {
					t.Fatalf("untampered: %v", err)
				}
			}
			c := f.serve(t, map[string]func(int, []byte) (int, []byte){tc.path: tc.change})
			err := tc.op(c)
			if err == nil {
				t.Fatal("accepted")
			}
			if got := events.ErrorCode(err); got != tc.code {
				t.Errorf("code %s, want %s: %v", got, tc.code, err)
			}
			if want := c.URL() + tc.names; !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name %s: %v", want, err)
			}
			var e *events.Error
			if !errors.As(err, &e) {
				t.Errorf("error is not an *events.Error: %v", err)
			}
		})
	}
}
