package parallel

import (
	"iter"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func count(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

// jittery squares x after a random pause, so that batches finish out of
// order.
func jittery(x int) int {
	if rand.IntN(8) == 0 {
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	}
	return x * x
}

func TestMapKeepsOrder(t *testing.T) {
	for _, tc := range []struct {
		name                string
		items, workers, bat int
	}{
		{"empty", 0, 4, 16},
		{"one item", 1, 4, 16},
		{"fewer items than a batch", 10, 4, 16},
		{"a batch exactly", 16, 4, 16},
		{"many batches", 10_000, 4, 16},
		{"one worker", 1000, 1, 7},
		{"batches of one", 1000, 3, 1},
		{"zero workers and batch mean one", 100, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			for y := range Map(tc.workers, tc.bat, count(tc.items), jittery) {
				got = append(got, y)
			}
			if len(got) != tc.items {
				t.Fatalf("%d results, want %d", len(got), tc.items)
			}
			for i, y := range got {
				if y != i*i {
					t.Fatalf("result %d is %d, want %d", i, y, i*i)
				}
			}
		})
	}
}

// TestMapStopsEarly breaks out of the loop and checks that the source was
// told to stop after a bounded number of items, and that every goroutine
// has returned when Map's loop has.
func TestMapStopsEarly(t *testing.T) {
	for _, stopAt := range []int{0, 1, 15, 16, 17, 500} {
		var pulled, running atomic.Int64
		src := func(yield func(int) bool) {
			running.Add(1)
			defer running.Add(-1)
			for i := range 1_000_000 {
				pulled.Add(1)
				if !yield(i) {
					return
				}
			}
		}
		f := func(x int) int {
			running.Add(1)
			defer running.Add(-1)
			return jittery(x)
		}
		n := 0
		for y := range Map(4, 16, src, f) {
			if y != n*n {
				t.Fatalf("stop at %d: result %d is %d", stopAt, n, y)
			}
			if n == stopAt {
				break
			}
			n++
		}
		if r := running.Load(); r != 0 {
			t.Errorf("stop at %d: %d calls still running after the loop", stopAt, r)
		}
		// At most the batches in flight (order holds 2×workers, one is being
		// sent, one being filled) were pulled beyond the one the loop stopped in.
		if p, limit := pulled.Load(), int64(stopAt+16*(2*4+3)); p > limit {
			t.Errorf("stop at %d: the source was pulled %d times, want at most %d", stopAt, p, limit)
		}
	}
}

func TestMapRaisesPanics(t *testing.T) {
	defer func() {
		if p := recover(); p != "item 300" {
			t.Fatalf("recovered %v, want the worker's panic", p)
		}
	}()
	var got []int
	for y := range Map(3, 8, count(1000), func(x int) int {
		if x == 300 {
			panic("item 300")
		}
		return x
	}) {
		got = append(got, y)
	}
	t.Fatalf("no panic; %d results", len(got))
}

func TestMapPanicComesAfterEarlierResults(t *testing.T) {
	var got []int
	func() {
		defer func() { recover() }()
		for y := range Map(3, 8, count(1000), func(x int) int {
			if x == 300 {
				panic("item 300")
			}
			return x
		}) {
			got = append(got, y)
		}
	}()
	if !slices.Equal(got, slices.Collect(count(296))) { // the panicking batch holds items 296..303
		t.Fatalf("got %d results before the panic, want the 296 of the batches before it", len(got))
	}
}

func BenchmarkMap(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for range Map(2, 64, count(4096), func(x int) int { return x + 1 }) {
		}
	}
}
