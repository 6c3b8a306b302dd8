package app

import (
	"context"
	"log/slog"
	"sync"

	"github.com/onebook/onebook/events/provincelogs"
	"github.com/onebook/onebook/events/schemas"
)

// recordProvinces runs the national log of logs in the national cell:
// every NationInterval it records each province's newest signed
// checkpoint in the national ledger (provincelogs.Follow), where the
// national sealer seals it, so that one national checkpoint commits to
// every province log.
//
// The province's checkpoints are read from its cell's Prover in this
// process, not through NATS: the national account cannot see a province's
// streams, by design, and a checkpoint and its consistency proofs are
// public anyway (they are what /p/NN/checkpoint and /p/NN/tile serve). A
// deployment running cells in separate processes would give Follow a
// tlogclient.Client of the province's URL instead; nothing else changes.
// Each province's verifier key is its cell's, as loaded from its seal key.
func (c *cell) recordProvinces(bg context.Context, wg *sync.WaitGroup, log *slog.Logger, provinces []*cell) error {
	var (
		ps       []provincelogs.Province
		followed []provincelogs.Followed
	)
	for _, p := range provinces {
		ps = append(ps, provincelogs.Province{Code: p.code, Key: p.app.vkey})
		followed = append(followed, provincelogs.Followed{Code: p.code, Source: p.app.ledger.Prover})
	}
	rec, err := provincelogs.NewRecorder(c.app.ledger.Store, schemas.Registry(), ps)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		provincelogs.Follow(bg, rec, followed, c.cfg.NationInterval, log)
	}()
	return nil
}
