// Package parallel applies a function to a stream of items on several
// goroutines and hands the results on in the items' order.
//
// It is for streams whose output must keep the input's order while each
// item's work is independent of the others': an export writes rows in
// ledger order but opens each event's sealed fields on its own, a
// verifier reports problems in file order but checks each entry on its
// own. Items travel in batches, so that the channel operations are paid
// once a batch, not once an item.
package parallel

import (
	"iter"
	"sync"
)

// Map returns the results of f over the items of src, in src's order. f
// runs on workers goroutines, batch items at a time; src runs on a
// goroutine of its own. At most about 3×workers batches are in flight, so
// memory is bounded however long src is.
//
// Breaking out of a loop over the result stops src (its yield returns
// false, after at most one more batch) and returns once src and every
// worker have returned. A panic in f is raised again in the loop.
//
// f is called concurrently with itself, and with src.
func Map[In, Out any](workers, batch int, src iter.Seq[In], f func(In) Out) iter.Seq[Out] {
	workers, batch = max(workers, 1), max(batch, 1)
	return func(yield func(Out) bool) {
		stop := make(chan struct{})
		// order holds the batches in src's order, work the same batches
		// for whichever worker is free; each batch's done is closed when
		// its results are in.
		order := make(chan *chunk[In, Out], 2*workers)
		work := make(chan *chunk[In, Out], workers)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for c := range work {
					c.run(f)
				}
			})
		}
		wg.Go(func() {
			defer close(order)
			defer close(work)
			c := &chunk[In, Out]{in: make([]In, 0, batch), done: make(chan struct{})}
			send := func() bool {
				select {
				case order <- c:
				case <-stop:
					return false
				}
				work <- c // workers take from work until it is closed
				c = &chunk[In, Out]{in: make([]In, 0, batch), done: make(chan struct{})}
				return true
			}
			for x := range src {
				c.in = append(c.in, x)
				if len(c.in) == batch && !send() {
					return
				}
			}
			if len(c.in) > 0 {
				send()
			}
		})
		defer func() {
			close(stop)
			wg.Wait()
		}()
		for c := range order {
			<-c.done
			if c.panicked != nil {
				panic(c.panicked)
			}
			for _, o := range c.out {
				if !yield(o) {
					return
				}
			}
		}
	}
}

// chunk is a batch of items and, once done is closed, their results.
type chunk[In, Out any] struct {
	in       []In
	out      []Out
	panicked any // what f panicked with, raised again by the consumer
	done     chan struct{}
}

func (c *chunk[In, Out]) run(f func(In) Out) {
	defer close(c.done)
	defer func() {
		if p := recover(); p != nil {
			c.panicked = p
		}
	}()
	c.out = make([]Out, len(c.in))
	for i, x := range c.in {
		c.out[i] = f(x)
	}
}
