package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/seal"
)

// province is a partition of the partitions part: a province cell and
// the district its events are in.
type province struct {
	cell     events.Region // 2-digit GB/T 2260 code
	district events.Region
	account  string // partition.Account(cell)
}

// provinces are the partitions, in the order the configurations take
// them: 1 partition is the first, 2 the first two, 4 all.
func provinces() []province {
	ps := []province{
		{cell: "11", district: "110105"}, // 北京市朝阳区
		{cell: "31", district: "310104"}, // 上海市徐汇区
		{cell: "44", district: "440106"}, // 广州市天河区
		{cell: "51", district: "510107"}, // 成都市武侯区
	}
	for i := range ps {
		ps[i].account = partition.Account(ps[i].cell)
	}
	return ps
}

// partitionCounts are the configurations measured, in partitions.
func partitionCounts() []int { return []int{1, 2, 4} }

// PartitionsResult is aggregate append throughput of the ledger split
// into 1, 2 and 4 partitions on one server, each partition in a NATS
// account of its own with its own ledger stream and ledger.Store, the
// same total of events in each configuration, appended by Clients
// clients spread evenly over the partitions, Batch events at a time; and
// against each, the raw baseline of the same bytes published to as many
// plain streams in the same accounts the same way. Then the sealer: one
// partition's log sealed alone, and all four sealed in parallel.
type PartitionsResult struct {
	Events   int // per configuration, over all its partitions
	Batch    int // events per append: 1 is Store.Append, more Store.AppendBatch
	Clients  int
	AvgBytes float64 // canonical bytes per event
	Runs     []PartitionRun
	// StoredBytes is the ledger streams' bytes per event on disk, as the
	// server counts them (message, subject, headers and record overhead).
	StoredBytes float64
	// TileBytes is the tile buckets' bytes per event sealed (hashes at
	// every level, and entry bundles: the event bytes again).
	TileBytes float64
	Seal      *PartitionSeal
	// S2 is the stored size with the stream option compression: s2 over
	// the size without, for the events' canonical bytes in blocks of the
	// file store's size, compressed as it compresses a block.
	S2 float64
	// Fsync is the median time of one 4 KiB write and fsync in the
	// server's storage directory, measured before the runs: what one
	// acknowledgement waits for at least with sync always.
	Fsync time.Duration
	// Retries and RawRetries count batches sent again because the
	// stream had too many open (every configuration together).
	Retries, RawRetries uint64
}

// PartitionRun is one configuration: its aggregate rates.
type PartitionRun struct {
	Partitions int
	Rate       float64 // events/s through the ledger stores, all partitions together
	RawRate    float64 // messages/s of the raw baseline, all streams together
	// Busy and RawBusy are the CPUs this process (clients and server
	// alike) kept busy while the ledger, and the raw baseline, ran: its
	// CPU time over the wall time. Well below the machine's CPUs, the
	// rate is bound by something else: the disk's syncs, or waits.
	Busy, RawBusy float64
	// Starved and RawStarved are how many of this process's threads
	// were, on average, ready to run but waiting for a CPU (the kernel's
	// run-queue delay, /proc/self/task/*/schedstat, over the wall time):
	// on a machine shared with other work, the CPU it did not get.
	Starved, RawStarved float64
	// Latency of one append (one batch, or one event), retries
	// included, over all the run's ledger appends, and of one raw publish.
	P50, P99, RawP50, RawP99 time.Duration
}

// Ratio is the ledger's rate over the raw rate.
func (r PartitionRun) Ratio() float64 { return r.Rate / r.RawRate }

// PartitionSeal is the sealer per partition: the first partition's log
// sealed from scratch to half its size with no other sealer running, then
// every partition's log sealed to its end, all at once, each by its own
// sealer in its own account.
type PartitionSeal struct {
	AloneEvents uint64
	AloneRate   float64   // events/s of the sealer alone
	Events      []uint64  // per partition, sealed in parallel
	Rates       []float64 // per partition: its events over its own time
	Rate        float64   // all partitions' events over the wall time
}

// scaling is a run's rate over the first run's (1 partition).
func (p PartitionsResult) scaling(r PartitionRun, raw bool) float64 {
	if raw {
		return r.RawRate / p.Runs[0].RawRate
	}
	return r.Rate / p.Runs[0].Rate
}

func (p PartitionsResult) metrics(m map[string]float64) {
	m["partitions_events"] = float64(p.Events)
	m["partitions_batch"] = float64(p.Batch)
	m["partitions_stored_bytes"] = p.StoredBytes
	m["partitions_event_bytes"] = p.AvgBytes
	m["partitions_fsync_ms"] = ms(p.Fsync)
	m["partitions_s2_ratio"] = p.S2
	m["partitions_retries"] = float64(p.Retries)
	m["partitions_raw_retries"] = float64(p.RawRetries)
	for _, r := range p.Runs {
		k := fmt.Sprintf("partitions_%d_", r.Partitions)
		m[k+"rate"] = r.Rate
		m[k+"raw_rate"] = r.RawRate
		m[k+"ratio"] = r.Ratio()
		m[k+"scaling"] = p.scaling(r, false)
		m[k+"raw_scaling"] = p.scaling(r, true)
		m[k+"busy_cpus"] = r.Busy
		m[k+"events_per_cpu_second"] = r.Rate / r.Busy // what carries over to other hardware better than the rate
		m[k+"raw_busy_cpus"] = r.RawBusy
		m[k+"p50_ms"], m[k+"p99_ms"] = ms(r.P50), ms(r.P99)
		m[k+"raw_p50_ms"], m[k+"raw_p99_ms"] = ms(r.RawP50), ms(r.RawP99)
		m[k+"starved_threads"] = r.Starved
		m[k+"raw_starved_threads"] = r.RawStarved
	}
	if s := p.Seal; s != nil {
		m["partitions_tile_bytes"] = p.TileBytes
		m["partitions_seal_alone_rate"] = s.AloneRate
		m["partitions_seal_parallel_rate"] = s.Rate
		m["partitions_seal_scaling"] = s.Rate / s.AloneRate
	}
}

func (p PartitionsResult) rows() []Row {
	how := "Store.AppendBatch of %d events"
	raw := "jetstreamext.PublishMsgBatch of the same %d messages"
	if p.Batch == 1 {
		how, raw = "Store.Append, %d event", "js.PublishMsg, %d message"
	}
	var rows []Row
	for _, r := range p.Runs {
		rows = append(rows, Row{
			Name: fmt.Sprintf("partitions%d", r.Partitions),
			Workload: fmt.Sprintf("%d pass.issued/pass.scanned events (avg %.0f B canonical, %.0f B stored per event) over %d ledger(s), each in a NATS account of its own on one server; %d clients spread over them, each appending "+how+" at a time; ledger × %.2f and raw × %.2f the rate of 1 partition; a 4 KiB write and fsync in the store's directory takes %.2f ms (median); the events' bytes compress to %.2f with the streams' compression: s2 (not used here); batches refused as too many open and sent again, all configurations: ledger %d, raw %d",
				p.Events, p.AvgBytes, p.StoredBytes, r.Partitions, p.Clients, p.Batch, p.scaling(r, false), p.scaling(r, true), ms(p.Fsync), p.S2, p.Retries, p.RawRetries),
			Baseline: fmt.Sprintf("%d stream(s), "+raw+": %s/s, p50 %.0f ms, p99 %.0f ms; %.2f CPUs busy, %.2f threads waiting for one", r.Partitions, p.Batch, rate(r.RawRate), ms(r.RawP50), ms(r.RawP99), r.RawBusy, r.RawStarved),
			Measured: fmt.Sprintf("%d ledger(s): %s/s (× %.2f of 1), p50 %.0f ms, p99 %.0f ms; %.2f CPUs busy, %.2f threads waiting for one", r.Partitions, rate(r.Rate), p.scaling(r, false), ms(r.P50), ms(r.P99), r.Busy, r.Starved),
			Ratio:    r.Ratio(), Target: "informational", Met: true,
		})
	}
	if s := p.Seal; s != nil {
		per := make([]string, len(s.Rates))
		for i, x := range s.Rates {
			per[i] = fmt.Sprintf("%s %s/s", provinces()[i].account, rate(x))
		}
		rows = append(rows, Row{
			Name: "partitions seal",
			Workload: fmt.Sprintf("the sealer of %s alone over %d events, then the %d sealers at once, each over its own log to its end (%v events; %.0f B of tiles per event)",
				provinces()[0].account, s.AloneEvents, len(s.Rates), s.Events, p.TileBytes),
			Baseline: fmt.Sprintf("1 sealer alone %s/s", rate(s.AloneRate)),
			Measured: fmt.Sprintf("%d in parallel %s/s together (%v)", len(s.Rates), rate(s.Rate), per),
			Ratio:    s.Rate / s.AloneRate, Target: "informational", Met: true,
		})
	}
	return rows
}

func (c Config) checkPartitions() error {
	most := slices.Max(partitionCounts())
	switch {
	case c.PartitionEvents < 2*cycles*most:
		return fmt.Errorf("partitions: events must be at least %d, got %d", 2*cycles*most, c.PartitionEvents)
	case c.PartitionBatch < 1 || c.PartitionBatch > ledger.MaxBatch:
		return fmt.Errorf("partitions: batch must be 1 to %d, got %d", ledger.MaxBatch, c.PartitionBatch)
	case c.PartitionClients < most:
		return fmt.Errorf("partitions: clients must be at least %d (one per partition), got %d", most, c.PartitionClients)
	case c.PartitionBatch > 1 && c.PartitionClients > maxOpenBatches:
		return fmt.Errorf("partitions: at most %d clients with batches (all on one stream in the 1-partition run, and nats-server keeps at most %d atomic batches open per stream), got %d",
			maxOpenBatches, maxOpenBatches, c.PartitionClients)
	}
	return nil
}

// cellLedger is one partition: its ledger and raw stream in its account.
type cellLedger struct {
	province
	js       jetstream.JetStream
	store    *ledger.Store
	appended uint64 // events given to its ledger so far
	built    int    // events of its workload built so far
	// retries counts batches refused because the stream had too many
	// open (and sent again), raw and ledger.
	rawRetries, retries atomic.Uint64
}

// tooManyOpen reports whether err is the server's refusal of an atomic
// batch because too many are open on the stream (at most 50) or the
// server (1000): the app's clients retry it (503), so does the benchmark.
func tooManyOpen(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.ErrorCode(server.JSAtomicPublishTooManyInflight)
}

// maxOpenBatches is nats-server's default limit of atomic batches open at
// once on one stream (max_batch_inflight_per_stream; more are refused with
// 10210). The partitions part keeps its clients within it: beyond, the
// 1-partition run would measure refusals and retries, not the stream.
const maxOpenBatches = 50

// openRetryWait is how long a client waits before sending a batch again
// that was refused because too many were open.
const openRetryWait = 2 * time.Millisecond

// sendRetrying is send, again while the stream has too many batches open.
func (pt *cellLedger) sendRetrying(ctx context.Context, b *batch, raw bool, lo, hi int) error {
	for {
		err := pt.send(ctx, b, raw, lo, hi)
		if !tooManyOpen(err) {
			return err
		}
		if raw {
			pt.rawRetries.Add(1)
		} else {
			pt.retries.Add(1)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(openRetryWait):
		}
	}
}

// benchPartitions runs the partitions part on a server of its own.
func (r *runner) benchPartitions(ctx context.Context, rep *Report) (PartitionsResult, error) {
	opts, err := r.cfg.syncOptions()
	if err != nil {
		return PartitionsResult{}, err
	}
	var cells []events.Region
	var names []string
	for _, p := range provinces() {
		cells, names = append(cells, p.cell), append(names, p.account)
	}
	dir := subdir(r.dir, "partitions")
	fsync, err := fsyncLatency(dir, fsyncSamples)
	if err != nil {
		return PartitionsResult{}, err
	}
	srv, err := startAccounts(ctx, dir, cells, opts, r.quiet)
	if err != nil {
		return PartitionsResult{}, err
	}
	defer srv.close()
	parts := make([]*cellLedger, len(names))
	for i, p := range provinces() {
		pt := &cellLedger{province: p}
		if pt.js, err = srv.jetStream(p.cell); err != nil {
			return PartitionsResult{}, err
		}
		// The cell's routing rule, as the backend's province cells
		// check it on every append.
		if pt.store, err = ledger.Open(ctx, pt.js, ledger.Config{Admit: partition.Province(p.cell)}); err != nil {
			return PartitionsResult{}, fmt.Errorf("%s: %w", p.account, err)
		}
		cfg := ledger.Config{Stream: RawStream}.StreamConfig()
		cfg.Subjects, cfg.Description = []string{"raw.>"}, "onebook bench: raw publish baseline"
		if _, err := pt.js.CreateStream(ctx, cfg); err != nil {
			return PartitionsResult{}, fmt.Errorf("%s: raw stream: %w", p.account, err)
		}
		parts[i] = pt
	}
	res, err := r.partitionRuns(ctx, parts)
	res.Fsync = fsync
	if err != nil {
		return res, err
	}
	if res.StoredBytes, err = storedPerEvent(ctx, parts); err != nil {
		return res, err
	}
	rep.note(fmt.Sprintf("partitions: one embedded nats-server, an account per partition as the backend's province cells have (%v, each with an nkey user), each with its ledger stream (ledger.Open with the cell's routing rule) and a raw stream configured alike (subjects raw.>); the configurations and their baselines alternate raw, ledger, ledger, raw, the order of the configurations reversed every cycle, so that load from elsewhere and the streams' growth fall on all alike", names))
	res.Seal, res.TileBytes, err = r.sealPartitions(ctx, parts)
	return res, err
}

// partitionRuns times each configuration against its raw baseline.
func (r *runner) partitionRuns(ctx context.Context, parts []*cellLedger) (PartitionsResult, error) {
	cfg := r.cfg
	res := PartitionsResult{Events: cfg.PartitionEvents, Batch: cfg.PartitionBatch, Clients: cfg.PartitionClients}
	work, err := r.partitionWork(ctx, parts)
	if err != nil {
		return res, err
	}
	var bytes, count int
	for _, bs := range work {
		for _, b := range bs {
			bytes, count = bytes+b.bytes, count+len(b.evs)
		}
	}
	res.AvgBytes = float64(bytes) / float64(count)
	if res.S2, err = s2Ratio(work[slices.Max(partitionCounts())]); err != nil {
		return res, err
	}
	ledgerTime, rawTime := map[int]time.Duration{}, map[int]time.Duration{}
	ledgerCPU, rawCPU := map[int]float64{}, map[int]float64{}
	ledgerWait, rawWait := map[int]float64{}, map[int]float64{}
	ledgerLat, rawLat := map[int][]time.Duration{}, map[int][]time.Duration{}
	for c := range cycles {
		order := partitionCounts()
		if c%2 == 1 {
			slices.Reverse(order)
		}
		for _, k := range order {
			n := cfg.PartitionEvents / k
			lo, hi := n*c/cycles, n*(c+1)/cycles
			mid := lo + (hi-lo)/2
			for _, st := range []struct {
				raw      bool
				from, to int
			}{{true, lo, mid}, {false, lo, mid}, {false, mid, hi}, {true, mid, hi}} {
				cpu, wait := cpuSeconds(), runQueueSeconds()
				took, lat, err := r.partitionSlot(ctx, parts[:k], work[k], st.raw, st.from, st.to)
				if err != nil {
					return res, err
				}
				if st.raw {
					rawLat[k] = append(rawLat[k], lat...)
					rawTime[k] += took
					rawCPU[k] += cpuSeconds() - cpu
					rawWait[k] += runQueueSeconds() - wait
				} else {
					ledgerLat[k] = append(ledgerLat[k], lat...)
					ledgerTime[k] += took
					ledgerCPU[k] += cpuSeconds() - cpu
					ledgerWait[k] += runQueueSeconds() - wait
				}
			}
		}
	}
	for _, k := range partitionCounts() {
		n := float64(cfg.PartitionEvents / k * k)
		res.Runs = append(res.Runs, PartitionRun{Partitions: k, Rate: n / ledgerTime[k].Seconds(), RawRate: n / rawTime[k].Seconds(),
			Busy: ledgerCPU[k] / ledgerTime[k].Seconds(), RawBusy: rawCPU[k] / rawTime[k].Seconds(),
			Starved: ledgerWait[k] / ledgerTime[k].Seconds(), RawStarved: rawWait[k] / rawTime[k].Seconds(),
			P50: quantileOf(ledgerLat[k], 0.5), P99: quantileOf(ledgerLat[k], 0.99), RawP50: quantileOf(rawLat[k], 0.5), RawP99: quantileOf(rawLat[k], 0.99)})
	}
	for _, pt := range parts {
		res.Retries += pt.retries.Load()
		res.RawRetries += pt.rawRetries.Load()
		size, err := pt.store.Size(ctx)
		if err != nil {
			return res, err
		}
		if size != pt.appended {
			return res, fmt.Errorf("%s: the ledger holds %d events, %d were appended", pt.account, size, pt.appended)
		}
	}
	return res, nil
}

// partitionWork builds the events of each configuration (by its number
// of partitions): PartitionEvents split evenly over its partitions, each
// partition's in its own province and following on from the events built
// for it before.
func (r *runner) partitionWork(ctx context.Context, parts []*cellLedger) (map[int][]*batch, error) {
	work := map[int][]*batch{}
	for _, k := range partitionCounts() {
		for _, pt := range parts[:k] {
			n := r.cfg.PartitionEvents / k
			b, err := prepareFrom(ctx, r.gen.in(pt.district), pt.built, n)
			if err != nil {
				return nil, err
			}
			pt.built += n
			work[k] = append(work[k], b)
		}
	}
	return work, nil
}

// partitionSlot appends events from..to-1 of every partition's work (raw:
// publishes their bytes to the partition's raw stream) with the run's
// clients spread evenly over the partitions, Batch events at a time, and
// returns how long it took and how long each append took.
func (r *runner) partitionSlot(ctx context.Context, parts []*cellLedger, work []*batch, raw bool, from, to int) (time.Duration, []time.Duration, error) {
	size := r.cfg.PartitionBatch
	next := make([]atomic.Int64, len(parts)) // each partition's next event
	for i := range next {
		next[i].Store(int64(from))
	}
	var done atomic.Uint64
	label := fmt.Sprintf("partitions %d: ledger", len(parts))
	if raw {
		label = fmt.Sprintf("partitions %d: raw", len(parts))
	}
	total := uint64((to - from) * len(parts))
	stop := track(r.progress, label, 0, total, done.Load)
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, r.cfg.PartitionClients)
	lats := make([][]time.Duration, r.cfg.PartitionClients)
	start := time.Now()
	for c := range r.cfg.PartitionClients {
		p := c % len(parts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next[p].Add(int64(size))) - size
				if lo >= to {
					return
				}
				hi := min(lo+size, to)
				t := time.Now()
				if err := parts[p].sendRetrying(ctx, work[p], raw, lo, hi); err != nil {
					errs[c] = err
					return
				}
				lats[c] = append(lats[c], time.Since(t))
				done.Add(uint64(hi - lo))
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return took, nil, err
	}
	if !raw {
		for _, pt := range parts {
			pt.appended += uint64(to - from)
		}
	}
	return took, slices.Concat(lats...), nil
}

// quantileOf is the q-quantile of ds (sorted here).
func quantileOf(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return quantile(s, q)
}

// send appends events lo..hi-1 of b to the partition's ledger as the app
// does (one Store.Append, or one Store.AppendBatch), or publishes their
// bytes to its raw stream the same way.
func (pt *cellLedger) send(ctx context.Context, b *batch, raw bool, lo, hi int) error {
	switch {
	case raw && hi-lo == 1:
		if _, err := pt.js.PublishMsg(ctx, &nats.Msg{Subject: b.subjects[lo], Data: b.raw[lo]}); err != nil {
			return fmt.Errorf("%s: raw publish: %w", pt.account, err)
		}
	case raw:
		msgs := make([]*nats.Msg, hi-lo)
		for i := range msgs {
			msgs[i] = &nats.Msg{Subject: b.subjects[lo+i], Data: b.raw[lo+i]}
		}
		if _, err := jetstreamext.PublishMsgBatch(ctx, pt.js, msgs); err != nil {
			return fmt.Errorf("%s: raw batch: %w", pt.account, err)
		}
	case hi-lo == 1:
		if _, err := pt.store.Append(ctx, b.evs[lo], events.ExpectAny()); err != nil {
			return fmt.Errorf("%s: append: %w", pt.account, err)
		}
	default:
		pend := make([]events.Pending, hi-lo)
		for i := range pend {
			pend[i] = events.Pending{Event: b.evs[lo+i], Expect: events.ExpectAny()}
		}
		recs, err := pt.store.AppendBatch(ctx, pend)
		if err != nil {
			return fmt.Errorf("%s: append batch: %w", pt.account, err)
		}
		if len(recs) != len(pend) {
			return fmt.Errorf("%s: batch of %d recorded as %d events", pt.account, len(pend), len(recs))
		}
	}
	return nil
}

// storedPerEvent is the bytes per message of the partitions' ledger
// streams, as their servers count them.
func storedPerEvent(ctx context.Context, parts []*cellLedger) (float64, error) {
	var bytes, msgs uint64
	for _, pt := range parts {
		st, err := pt.js.Stream(ctx, pt.store.Stream())
		if err != nil {
			return 0, err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return 0, err
		}
		bytes, msgs = bytes+info.State.Bytes, msgs+info.State.Msgs
	}
	return float64(bytes) / float64(max(msgs, 1)), nil
}

// tilesBucket is the seal's tile bucket (seal.TilesConfig's default, as
// openSeal opens it).
const tilesBucket = "ledger_tiles"

// sealPartitions seals the first partition's log from scratch to half its
// size alone, then every partition's log to its end at once, each with a
// sealer of its own in its account, and returns the rates and the tile
// bytes per event sealed.
func (r *runner) sealPartitions(ctx context.Context, parts []*cellLedger) (*PartitionSeal, float64, error) {
	sealers := make([]*seal.Sealer, len(parts))
	for i, pt := range parts {
		env, err := openSeal(ctx, pt.js)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", pt.account, err)
		}
		if sealers[i], err = env.sealer(pt.js, r.quiet); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", pt.account, err)
		}
	}
	res := &PartitionSeal{AloneEvents: parts[0].appended / 2, Events: make([]uint64, len(parts)), Rates: make([]float64, len(parts))}
	stop := track(r.progress, "partitions: seal "+parts[0].account+" alone", 0, res.AloneEvents, func() uint64 { return sealers[0].Status().Size })
	start := time.Now()
	_, err := sealers[0].SealTo(ctx, res.AloneEvents)
	res.AloneRate = float64(res.AloneEvents) / time.Since(start).Seconds()
	stop()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: seal: %w", parts[0].account, err)
	}
	var total uint64
	for i, pt := range parts {
		res.Events[i] = pt.appended - sealers[i].Status().Size
		total += res.Events[i]
	}
	sealed := func() uint64 {
		var n uint64
		for _, s := range sealers {
			n += s.Status().Size
		}
		return n - res.AloneEvents
	}
	stop = track(r.progress, fmt.Sprintf("partitions: seal %d logs at once", len(parts)), 0, total, sealed)
	defer stop()
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	start = time.Now()
	for i, pt := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			if _, err := sealers[i].SealTo(ctx, pt.appended); err != nil {
				errs[i] = fmt.Errorf("%s: seal: %w", pt.account, err)
			}
			res.Rates[i] = float64(res.Events[i]) / time.Since(t).Seconds()
		}()
	}
	wg.Wait()
	res.Rate = float64(total) / time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	var bytes, events uint64
	for _, pt := range parts {
		kv, err := pt.js.KeyValue(ctx, tilesBucket)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: tiles: %w", pt.account, err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: tiles: %w", pt.account, err)
		}
		bytes, events = bytes+st.Bytes(), events+pt.appended
	}
	return res, float64(bytes) / float64(events), nil
}

// fsyncSamples is how many writes fsyncLatency times.
const fsyncSamples = 200

// fsyncLatency times n writes of 4 KiB, each followed by an fsync, to a
// file in dir (created, then removed) and returns the median.
func fsyncLatency(dir string, n int) (time.Duration, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(dir, "fsync-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	took := make([]time.Duration, n)
	for i := range took {
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0, fmt.Errorf("fsync latency: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("fsync latency: %w", err)
		}
		took[i] = time.Since(start)
	}
	return median(took), nil
}

// runQueueSeconds is the time this process's threads have spent ready to
// run but waiting for a CPU, summed over its threads alive now (the second
// field of /proc/self/task/*/schedstat); 0 where there is no such file.
func runQueueSeconds() float64 {
	paths, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var ns uint64
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread is gone
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			ns += v
		}
	}
	return float64(ns) / 1e9
}

// storeBlock is the block size of the ledger stream's file store
// (nats-server's defaultLargeBlockSize, for streams without limits).
const storeBlock = 8 << 20

// s2Ratio compresses the canonical bytes of bs, one event after another in
// blocks of storeBlock, with the function nats-server's file store
// compresses a block with when a stream has compression: s2, and returns
// the compressed size over the plain size.
func s2Ratio(bs []*batch) (float64, error) {
	const checksum = 8 // the block's trailing checksum, which stays as it is
	var plain, packed int
	block := make([]byte, 0, storeBlock+checksum)
	flush := func() error {
		if len(block) == 0 {
			return nil
		}
		out, err := server.S2Compression.Compress(append(block, make([]byte, checksum)...))
		if err != nil {
			return fmt.Errorf("s2: %w", err)
		}
		plain, packed = plain+len(block), packed+len(out)-checksum
		block = block[:0]
		return nil
	}
	for _, b := range bs {
		for _, raw := range b.raw {
			if len(block)+len(raw) > storeBlock {
				if err := flush(); err != nil {
					return 0, err
				}
			}
			block = append(block, raw...)
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return float64(packed) / float64(max(plain, 1)), nil
}
