package seal

import (
	"bytes"
	"testing"
)

func TestParseTilePath(t *testing.T) {
	tests := []struct {
		path    string
		l       int
		n       int64
		w       int
		entries bool
		bad     bool
	}{
		{path: "0/000", l: 0, n: 0, w: 256},
		{path: "0/x001/x234/067", l: 0, n: 1234067, w: 256},
		{path: "1/002.p/17", l: 1, n: 2, w: 17},
		{path: "entries/000", l: -1, n: 0, w: 256, entries: true},
		{path: "entries/x001/234.p/5", l: -1, n: 1234, w: 5, entries: true},
		{path: "0/0", bad: true},         // N not in 3-digit groups
		{path: "0/000.p/0", bad: true},   // a partial tile of width 0
		{path: "0/000.p/256", bad: true}, // wider than a tile
		{path: "64/000", bad: true},      // level beyond 63
		{path: "x/000", bad: true},       // level not a number
		{path: "entries", bad: true},     // no N
		{path: "0/x001/234/", bad: true}, // trailing slash
		{path: "8/0/000", bad: true},     // tlog's own layout (with the height) is not C2SP
		{path: "data/000", bad: true},    // tlog's name for bundles
		{path: "-1/000", bad: true},      // negative level
	}
	for _, tc := range tests {
		p, err := ParseTilePath(tc.path)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: parsed as %+v, want an error", tc.path, p)
			}
			continue
		}
		if err != nil || p.Tile.L != tc.l || p.Tile.N != tc.n || p.Tile.W != tc.w || p.Entries != tc.entries || p.Tile.H != TileHeight {
			t.Errorf("%q: %+v %v", tc.path, p, err)
		}
	}
}

func TestTileWithin(t *testing.T) {
	tests := []struct {
		path string
		size uint64
		want bool
	}{
		{"0/000", 255, false},
		{"0/000", 256, true},
		{"0/001.p/10", 265, false},
		{"0/001.p/10", 266, true},
		{"entries/001.p/10", 266, true},
		{"1/000.p/1", 255, false},
		{"1/000.p/1", 256, true},
		{"1/000", 65535, false},
		{"1/000", 65536, true},
	}
	for _, tc := range tests {
		p, err := ParseTilePath(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Within(tc.size); got != tc.want {
			t.Errorf("%s within %d: %v", tc.path, tc.size, got)
		}
	}
}

func TestAppendEntry(t *testing.T) {
	b, err := AppendEntry(nil, []byte("ab"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err = AppendEntry(b, []byte("")); err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 2, 'a', 'b', 0, 0}; !bytes.Equal(b, want) {
		t.Errorf("bundle % x, want % x", b, want)
	}
	if _, err := AppendEntry(nil, make([]byte, 1<<16)); err == nil {
		t.Error("an entry of 64 KiB fit")
	}
}
