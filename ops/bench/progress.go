package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressEvery is how often long phases report on the progress writer.
const progressEvery = time.Second

// track prints "label done/total (rate)" to w every progressEvery while a
// phase runs, reading done from the function given; the rate counts from
// base, where done stood when the phase started. The returned stop ends it.
// A nil w prints nothing.
func track(w io.Writer, label string, base, total uint64, done func() uint64) (stop func()) {
	if w == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				d := done()
				fmt.Fprintf(w, "%s %d/%d (%.0f/s)\n", label, d, total, float64(d-min(d, base))/time.Since(start).Seconds())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			wg.Wait()
		})
	}
}

// abba returns the order in which a baseline a and a measurement b run:
// a b b a, n times.
func abba(n int, a, b string) []string {
	var out []string
	for range n {
		out = append(out, a, b, b, a)
	}
	return out
}
