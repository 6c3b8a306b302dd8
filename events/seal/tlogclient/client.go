// Package tlogclient reads a C2SP tlog-tiles log (https://c2sp.org/tlog-tiles)
// over HTTP, the way anyone outside onebook audits one: its latest
// checkpoint, its hash tiles and its entry bundles. It computes inclusion
// and consistency proofs from the tiles as seal.Prover does from the
// stored ones, so code that checks a log takes either.
//
// Nothing it reads is trusted: a checkpoint is parsed, not verified (the
// caller opens it with the log's verifier key), and every hash a proof is
// made of is authenticated against a checkpoint (tlog.TileHashReader), so
// a served tile that disagrees with the checkpoint is an error, and a
// proof made from tiles of another history does not verify.
package tlogclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/seal"
)

// maxBody bounds a response: an entry bundle of 256 entries of at most
// 65535 bytes, each after its 2-byte length.
const maxBody = 256 * (2 + 0xffff)

// Client reads one log, served under a URL prefix (its checkpoint at
// <prefix>/checkpoint).
type Client struct {
	base string
	http *http.Client

	mu     sync.Mutex
	latest seal.Checkpoint   // the newest checkpoint fetched; proofs are authenticated against it
	full   map[string][]byte // full tiles, which never change
}

// New returns a client of the log served under base (such as
// "http://127.0.0.1:8080/p/31"); hc nil is http.DefaultClient.
func New(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimSuffix(base, "/"), http: hc, full: map[string][]byte{}}
}

// URL is the log's URL prefix.
func (c *Client) URL() string { return c.base }

func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/"+path, nil)
	if err != nil {
		return nil, fmt.Errorf("tlog-tiles %s: %w", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "GET " + req.URL.String(), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "GET " + req.URL.String(), Err: err}
	case resp.StatusCode == http.StatusNotFound:
		return nil, events.Errorf(events.CodeNotFound, "GET %s: 404", req.URL)
	case resp.StatusCode != http.StatusOK:
		return nil, events.Errorf(events.CodeUnavailable, "GET %s: %s", req.URL, resp.Status)
	case len(body) > maxBody:
		return nil, events.Errorf(events.CodeTooLarge, "GET %s: more than %d bytes", req.URL, maxBody)
	}
	return body, nil
}

// Latest fetches the latest signed checkpoint and returns the note and
// what its body says, unverified (seal.OpenCheckpoint verifies it). Its
// signature is the province's affair; the client only remembers the
// checkpoint to authenticate tiles against, which a forged one would fail.
func (c *Client) Latest(ctx context.Context) (note []byte, size uint64, root tlog.Hash, err error) {
	note, err = c.get(ctx, "checkpoint")
	if err != nil {
		return nil, 0, tlog.Hash{}, err
	}
	body, _, ok := bytes.Cut(note, []byte("\n\n"))
	if !ok {
		return nil, 0, tlog.Hash{}, events.Invalid("checkpoint", "%s/checkpoint is not a signed note", c.base)
	}
	cp, err := seal.ParseCheckpoint(string(body) + "\n")
	if err != nil {
		return nil, 0, tlog.Hash{}, err
	}
	c.mu.Lock()
	c.latest = cp
	c.mu.Unlock()
	return note, cp.Size, cp.Hash, nil
}

// Height is the tile height of tlog-tiles (tlog.TileReader).
func (c *Client) Height() int { return seal.TileHeight }

// tilePath maps a tlog tile path (tile/8/L/N, tile/8/data/N) to its
// tlog-tiles path (tile/L/N, tile/entries/N).
func tilePath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", seal.TileHeight))
	if rest, ok := strings.CutPrefix(p, "data/"); ok {
		p = "entries/" + rest
	}
	return "tile/" + p
}

// ReadTiles fetches hash tiles (tlog.TileReader). Full tiles are cached.
func (c *Client) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	return c.readTiles(context.Background(), tiles)
}

func (c *Client) readTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := tilePath(t)
		c.mu.Lock()
		d, ok := c.full[p]
		c.mu.Unlock()
		if !ok {
			var err error
			if d, err = c.get(ctx, p); err != nil {
				return nil, err
			}
			if len(d) != t.W*tlog.HashSize {
				return nil, events.Errorf(events.CodeInvalid, "%s/%s has %d bytes, want %d", c.base, p, len(d), t.W*tlog.HashSize)
			}
		}
		out[i] = d
	}
	return out, nil
}

// SaveTiles keeps the full tiles, which never change (tlog.TileReader:
// called once they were authenticated).
func (c *Client) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range tiles {
		if t.W == 1<<seal.TileHeight && len(c.full) < 1<<16 {
			c.full[tilePath(t)] = data[i]
		}
	}
}

// reader returns hashes of a tree of at least size leaves, authenticated
// against the newest checkpoint fetched (fetching one if it is too small).
func (c *Client) reader(ctx context.Context, size uint64) (tlog.HashReader, error) {
	c.mu.Lock()
	cp := c.latest
	c.mu.Unlock()
	if cp.Size < size || cp.Origin == "" {
		if _, _, _, err := c.Latest(ctx); err != nil {
			return nil, err
		}
		c.mu.Lock()
		cp = c.latest
		c.mu.Unlock()
	}
	if cp.Size < size {
		return nil, events.Errorf(events.CodeNotFound, "%s serves a tree of %d leaves, fewer than %d", c.base, cp.Size, size)
	}
	return tlog.TileHashReader(cp.Tree(), ctxReader{ctx: ctx, c: c}), nil
}

// ctxReader is the client as a tlog.TileReader whose fetches use ctx.
type ctxReader struct {
	ctx context.Context
	c   *Client
}

func (r ctxReader) Height() int { return seal.TileHeight }
func (r ctxReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	return r.c.readTiles(r.ctx, tiles)
}
func (r ctxReader) SaveTiles(tiles []tlog.Tile, data [][]byte) { r.c.SaveTiles(tiles, data) }

// ProveConsistency computes the RFC 6962 consistency proof that the tree
// of size old is a prefix of the tree of size new from the served tiles,
// as seal.Prover does from the stored ones.
func (c *Client) ProveConsistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error) {
	if old > new {
		return nil, events.Invalid("old", "old tree size %d is larger than new tree size %d", old, new)
	}
	if old == 0 {
		return tlog.TreeProof{}, nil
	}
	r, err := c.reader(ctx, new)
	if err != nil {
		return nil, err
	}
	p, err := tlog.ProveTree(int64(new), int64(old), r)
	if err != nil {
		return nil, proofErr(err, "%s: consistency proof of %d in %d from the served tiles", c.base, old, new)
	}
	return p, nil
}

// ProveInclusion returns the leaf hash at index and its RFC 6962
// inclusion proof in the tree of size size, from the served tiles.
func (c *Client) ProveInclusion(ctx context.Context, index, size uint64) (tlog.Hash, tlog.RecordProof, error) {
	if index >= size {
		return tlog.Hash{}, nil, events.Invalid("index", "leaf index %d is not below tree size %d", index, size)
	}
	r, err := c.reader(ctx, size)
	if err != nil {
		return tlog.Hash{}, nil, err
	}
	leaf, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(index))})
	if err != nil {
		return tlog.Hash{}, nil, proofErr(err, "%s: leaf hash %d from the served tiles", c.base, index)
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), r)
	if err != nil {
		return tlog.Hash{}, nil, proofErr(err, "%s: inclusion proof of %d in %d from the served tiles", c.base, index, size)
	}
	return leaf[0], p, nil
}

// proofErr keeps the code of a fetch that failed (a tile not served, the
// server unavailable), so that a log that is down does not read as one
// that lies, and classifies the rest, which come from authenticating the
// served tiles against the checkpoint, as invalid.
func proofErr(err error, format string, args ...any) error {
	code := events.CodeInvalid
	var e *events.Error
	if errors.As(err, &e) {
		code = e.Code
	}
	return &events.Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// Bundle fetches entry bundle n of a tree of size leaves (full, or as wide
// as the tree reaches) and splits it into its entries.
func (c *Client) Bundle(ctx context.Context, n, size uint64) ([][]byte, error) {
	first := n << seal.TileHeight
	if first >= size {
		return nil, events.Invalid("index", "entry bundle %d is beyond a tree of %d leaves", n, size)
	}
	w := min(size-first, 1<<seal.TileHeight)
	t := tlog.Tile{H: seal.TileHeight, L: -1, N: int64(n), W: int(w)}
	body, err := c.get(ctx, tilePath(t))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for len(body) > 0 {
		if len(body) < 2 || len(body) < 2+int(binary.BigEndian.Uint16(body)) {
			return nil, events.Errorf(events.CodeInvalid, "%s/%s: entry %d is cut short", c.base, tilePath(t), len(out))
		}
		l := int(binary.BigEndian.Uint16(body))
		out = append(out, body[2:2+l])
		body = body[2+l:]
	}
	if len(out) != int(w) {
		return nil, events.Errorf(events.CodeInvalid, "%s/%s has %d entries, want %d", c.base, tilePath(t), len(out), w)
	}
	return out, nil
}

// Entry fetches the entry at index of a tree of size leaves.
func (c *Client) Entry(ctx context.Context, index, size uint64) ([]byte, error) {
	b, err := c.Bundle(ctx, index>>seal.TileHeight, size)
	if err != nil {
		return nil, err
	}
	return b[index&(1<<seal.TileHeight-1)], nil
}
