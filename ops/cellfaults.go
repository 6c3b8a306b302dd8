package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/ops/cluster"
)

// cellFaultNames are the faults of a cluster with a ledger per province,
// one per round: the node leading one province's ledger killed (a crash:
// the others learn of it by its silence), and a node that does not lead it
// killed; each restarted on its store once the load has gone on without
// it. With five ledgers (four provinces and the nation) on three nodes,
// either node also leads or follows other provinces' ledgers.
var cellFaultNames = []string{"leader-kill", "node-restart"}

// cellCommunity is the community of province p's rig: district 0105 of
// the province's first city (110105001001 in Beijing, 310105001001 in
// Shanghai), derived, not listed per province.
func cellCommunity(p events.Region) string { return string(p) + "0105001001" }

// runCellFaults starts a cluster with a ledger per province (provinces;
// two API replicas and a worker, each running every cell) and, per fault
// of cfg.Faults, runs a round: every province's load at once (cfg.Clients
// spread over the provinces, cfg.Scans at least per province, each scan
// posted under its province's prefix), the fault struck at the ledger of
// province struck, then, for each province, what its clients were told
// against what its ledger holds (nothing acknowledged lost, nothing twice,
// nothing of another province's load) and ops verify --cell; and that the
// national ledger holds no scan. It returns one result per province and
// round, and one for the nation.
func runCellFaults(ctx context.Context, env *environ, cfg faultConfig, provinces []events.Region, struck events.Region) ([]faultResult, error) {
	if !slices.Contains(provinces, struck) {
		return nil, fmt.Errorf("province %s to strike is not one of %v", struck, provinces)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	start := time.Now()
	c, cleanup, err := startCluster(ctx, env, cluster.Config{Dir: cfg.Dir, Partitions: provinces, Flags: []string{"--seal-interval", "100ms", "--log-level", "warn"}})
	if err != nil {
		return nil, err
	}
	defer cleanup()
	fmt.Fprintf(cfg.Progress, "cell faults: cluster with provinces %v up in %v\n", provinces, time.Since(start).Round(time.Millisecond))
	rigs, err := cellRigs(ctx, env, c, cfg, provinces)
	defer func() {
		for _, g := range rigs {
			g.close()
		}
	}()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, "cell faults: %d residents with passes in each province in %v\n", cfg.Residents, time.Since(start).Round(time.Millisecond))
	var out []faultResult
	for _, name := range cfg.Faults {
		fmt.Fprintf(cfg.Progress, "cell faults: %s at province %s's ledger\n", name, struck)
		res, err := cellRound(ctx, c, rigs, name, struck)
		out = append(out, res...)
		if err != nil {
			return out, fmt.Errorf("%s: %w (replica logs: %s)", name, err, c.LogDir())
		}
	}
	return out, nil
}

// cellRig is a faultRig in one province's cell, with the connection to
// its account that it reads its ledger through.
type cellRig struct {
	*faultRig
	close func()
}

// cellRigs sets up a rig in every province at once: a property manager,
// a gate and cfg.Residents residents with passes in cellCommunity.
func cellRigs(ctx context.Context, env *environ, c *cluster.Cluster, cfg faultConfig, provinces []events.Region) ([]cellRig, error) {
	clients := max(cfg.Clients/len(provinces), 1)
	var rigs []cellRig
	for _, p := range provinces {
		nc, js, err := c.CellJetStream(p)
		if err != nil {
			return rigs, err
		}
		pcfg := cfg
		pcfg.Clients = clients
		rigs = append(rigs, cellRig{close: nc.Close, faultRig: &faultRig{c: c, env: env, cfg: pcfg, cell: p, community: cellCommunity(p), js: js,
			data: c.CellConfig(p).DataDir, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}, Timeout: 30 * time.Second}}})
	}
	errs := make([]error, len(rigs))
	var wg sync.WaitGroup
	for i, g := range rigs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.setup(ctx); err != nil {
				errs[i] = fmt.Errorf("set up province %s: %w", g.cell, err)
			}
		}()
	}
	wg.Wait()
	return rigs, errors.Join(errs...)
}

// cellRound runs fault name under every province's load and checks each
// province's ledger, and the nation's.
func cellRound(ctx context.Context, c *cluster.Cluster, rigs []cellRig, name string, struck events.Region) ([]faultResult, error) {
	round := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	loads := make([]*scanLoad, len(rigs))
	from := make([]uint64, len(rigs))
	res := make([]faultResult, len(rigs))
	lctx, stopLoads := context.WithTimeout(ctx, rigs[0].cfg.Timeout)
	defer stopLoads()
	var wgs []*sync.WaitGroup
	finish := func() {
		for _, l := range loads {
			if l != nil {
				l.stop.Store(true)
			}
		}
		for _, wg := range wgs {
			wg.Wait()
		}
		wgs = nil
	}
	defer finish()
	for i, g := range rigs {
		var err error
		if from[i], err = g.ledgerSize(ctx); err != nil {
			return nil, err
		}
		loads[i] = &scanLoad{g: g.faultRig, prefix: fmt.Sprintf("%s-p%s", round, g.cell), round: round, min: g.cfg.Scans,
			statuses: map[string]int{}, acked: map[string]uint64{}}
		wgs = append(wgs, loads[i].run(lctx, g.cfg.Clients))
		res[i] = faultResult{Fault: name, Cell: g.cell}
	}
	// Faults strike a cluster under load, in every province.
	for _, l := range loads {
		if err := l.waitAcked(ctx, l.min/4); err != nil {
			return nil, err
		}
	}
	var restart *cluster.Replica
	k := indexOfRig(rigs, struck)
	if err := rigs[k].strike(ctx, name, loads[k], &res[k], &restart); err != nil {
		return nil, err
	}
	// Every province went on through the fault and after it.
	for _, l := range loads {
		if err := l.waitAcked(ctx, l.min/4); err != nil {
			return nil, err
		}
	}
	finish()
	for i, g := range rigs {
		if i != k {
			res[i].Target = res[k].Target
		}
		if err := g.outcome(ctx, name, loads[i], lctx.Err() != nil, from[i], &res[i]); err != nil {
			return res, err
		}
	}
	nation, err := nationScans(ctx, c, name, res[k].Target)
	return append(res, nation), err
}

// nationScans checks that the national ledger holds no gate scan (no raw
// event of any province): its result counts them as foreign.
func nationScans(ctx context.Context, c *cluster.Cluster, fault, target string) (faultResult, error) {
	res := faultResult{Fault: fault, Cell: partition.Nation, Target: target}
	nc, js, err := c.CellJetStream(partition.Nation)
	if err != nil {
		return res, err
	}
	defer nc.Close()
	err = ledger.ScanStream(ctx, js, cluster.LedgerStream, nil, 1, ^uint64(0), func(r events.Recorded) error {
		e, err := events.Parse(r.Raw)
		if err != nil {
			return err
		}
		if e.Type == passevents.TypeScanned {
			res.Ledger.Foreign++
			if len(res.Problems) < 20 {
				res.Problems = append(res.Problems, fmt.Sprintf("the national ledger holds a gate scan at %d (region %s)", r.Seq, e.Region))
			}
		}
		return nil
	})
	return res, err
}

func indexOfRig(rigs []cellRig, p events.Region) int {
	for i, g := range rigs {
		if g.cell == p {
			return i
		}
	}
	return -1
}

// writeCellFaults prints, per round and province, what the clients sent
// and were told and what the province's ledger holds of it.
func writeCellFaults(w io.Writer, res []faultResult) {
	fmt.Fprintf(w, "%-13s %-8s %-6s %6s %6s %9s %4s %4s %5s %6s %7s %-30s %-44s %9s %s\n",
		"fault", "ledger", "target", "scans", "acked", "in ledger", "lost", "dup", "moved", "unsent", "foreign", "answers", "failover", "catch-up", "problems")
	for _, r := range res {
		failover := "–"
		if r.Failover > 0 {
			failover = fmt.Sprintf("%s: %s", r.FailoverOf, r.Failover.Round(time.Millisecond))
		}
		catchUp := "–"
		if r.CatchUp > 0 {
			catchUp = r.CatchUp.Round(time.Millisecond).String()
		}
		n := r.Ledger
		fmt.Fprintf(w, "%-13s %-8s %-6s %6d %6d %9d %4d %4d %5d %6d %7d %-30s %-44s %9s %d\n", r.Fault, partition.Name(r.Cell), r.Target, r.Scans, r.Acked,
			n.InLedger, n.Lost, n.Duplicated, n.Moved, n.Unsent, n.Foreign, r.answers(), failover, catchUp, len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(w, "    problem: %s\n", p)
		}
	}
}
