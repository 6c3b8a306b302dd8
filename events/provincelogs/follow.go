package provincelogs

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
)

// Source is where a province's checkpoints come from: its seal.Prover in
// the process, or its public tlog-tiles surface (tlogclient.Client).
type Source interface {
	Latest(ctx context.Context) (note []byte, size uint64, root tlog.Hash, err error)
	Prover
}

// Followed is a province log and where to read it.
type Followed struct {
	Code   events.Region
	Source Source
}

// DefaultInterval is Follow's interval when none is given.
const DefaultInterval = 10 * time.Second

// Follow records each followed province's newest checkpoint, polling
// every interval (DefaultInterval if 0), until ctx ends. Polling the newest checkpoint rather
// than consuming every one is what survives restarts without state of its
// own: after a restart (of either side) the next poll records the newest
// checkpoint with a consistency proof from the nation's head, which covers
// every checkpoint published in between. The nation therefore records a
// province checkpoint at most once per interval, which bounds the national
// log's load (a province sealer publishes up to two a second) while every
// province event is committed to by a national checkpoint within about an
// interval and the national sealer's delay. Errors are logged and retried
// at the next poll; a refused signature or a fork is logged as an error.
func Follow(ctx context.Context, rec *Recorder, provinces []Followed, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	var wg sync.WaitGroup
	for _, p := range provinces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			followOne(ctx, rec, p, interval, log.With("component", "nation-recorder", "province", string(p.Code)))
		}()
	}
	wg.Wait()
}

func followOne(ctx context.Context, rec *Recorder, p Followed, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last []byte // the note last judged; unchanged, nothing to do
	for {
		msg, _, _, err := p.Source.Latest(ctx)
		switch {
		case events.ErrorCode(err) == events.CodeNotFound:
			// The province has not sealed anything yet.
		case err != nil:
			log.Warn("read the province's checkpoint", "err", err)
		case bytes.Equal(msg, last):
		default:
			j, err := rec.Record(ctx, p.Code, msg, p.Source)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("province checkpoint not recorded", "err", err)
			case j.Verdict == Fork:
				log.Error("province log forked: the evidence is in the national ledger", "reason", j.Reason)
				last = msg
			case err == nil:
				last = msg
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
