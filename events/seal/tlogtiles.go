package seal

import (
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// The public audit surface is C2SP tlog-tiles (https://c2sp.org/tlog-tiles):
//
//	/checkpoint                      the latest signed checkpoint
//	/tile/<L>/<N>[.p/<W>]            hash tile L/N, W hashes wide (partial), 256 (full)
//	/tile/entries/<N>[.p/<W>]        entry bundle N: the leaves' bytes
//
// N is written in groups of three digits, all but the last prefixed by
// "x" (1234067 is x001/x234/067), as in golang.org/x/mod/sumdb/tlog, whose
// paths differ only in naming the tile height (tile/8/L/N) and calling
// entry bundles "data": the C2SP height is always 8, which is TileHeight.

// TilePath is what a tlog-tiles path names: a hash tile (Entries false)
// or an entry bundle (Entries true; Tile.L is then -1).
type TilePath struct {
	Tile    tlog.Tile
	Entries bool
}

// ParseTilePath parses a tlog-tiles path below "tile/" (without it), such
// as "0/x001/234.p/5" or "entries/067".
func ParseTilePath(p string) (TilePath, error) {
	level, rest, ok := strings.Cut(p, "/")
	if !ok || rest == "" {
		return TilePath{}, fmt.Errorf("tile path %q: want <L>/<N>[.p/<W>] or entries/<N>[.p/<W>]", p)
	}
	entries := level == "entries"
	if entries {
		level = "data"
	}
	t, err := tlog.ParseTilePath(fmt.Sprintf("tile/%d/%s/%s", TileHeight, level, rest))
	if err != nil {
		return TilePath{}, fmt.Errorf("tile path %q: %w", p, err)
	}
	if !entries && (t.L < 0 || t.L > 63) {
		return TilePath{}, fmt.Errorf("tile path %q: level %d is not 0 to 63", p, t.L)
	}
	return TilePath{Tile: t, Entries: entries}, nil
}

// Full reports whether the tile or bundle is full (256 wide): full ones
// never change.
func (p TilePath) Full() bool { return p.Tile.W == 1<<TileHeight }

// Within reports whether the tile or bundle exists in a tree of size
// leaves: its last hash (or entry) is covered by the tree.
func (p TilePath) Within(size uint64) bool {
	t := p.Tile
	level := t.L
	if p.Entries {
		level = 0
	}
	// The tile covers leaves [N*256+..., (N*256+W) * 256^level).
	last := (uint64(t.N)<<TileHeight + uint64(t.W)) << (uint(level) * TileHeight)
	return last <= size && t.W >= 1 && t.W <= 1<<TileHeight
}

// AppendEntry appends one entry of an entry bundle: its length as a
// big-endian uint16, then its bytes (C2SP tlog-tiles). Events are at most
// 65535 bytes (events.MaxEventSize).
func AppendEntry(bundle, entry []byte) ([]byte, error) {
	if len(entry) > 0xffff {
		return bundle, fmt.Errorf("an entry of %d bytes does not fit an entry bundle", len(entry))
	}
	bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(entry)))
	return append(bundle, entry...), nil
}
