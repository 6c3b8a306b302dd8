package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/events/seal/witnesspush"
	"github.com/onebook/onebook/ops/witness"
)

// Witness is the C2SP tlog-witness part: three in-process witnesses
// (ops/witness) on loopback, pushed to by witnesspush as the backend does.
const Witness = "witness"

// witnessCount is how many witnesses the part runs; the quorum is all of
// them.
const witnessCount = 3

// WitnessResult is the witness part: what pushing checkpoints to three
// witnesses costs the sealer, and how long a new checkpoint waits for its
// cosignatures while events keep arriving.
type WitnessResult struct {
	Events          uint64  // events sealed from scratch, each way
	AppendRate      float64 // Store.Append rate of the fills (both), events/s
	SealRate        float64 // sealing from scratch, no witnesses
	SealRateWith    float64 // sealing from scratch while the pusher pushes to three witnesses
	PushedWhileSeal int     // add-checkpoint rounds answered 200 during that sealing

	Latency []WitnessLatency // one per pusher poll interval

	Rounds   int           // add-checkpoint rounds answered 200 over the whole part
	RoundP50 time.Duration // time the witness took for one round (parse, verify, proof, fsync, sign)
	RoundP99 time.Duration
}

// WitnessLatency is the time from a new checkpoint to its cosignatures by
// all three witnesses, under append load.
type WitnessLatency struct {
	Poll        time.Duration // the pusher's poll for a new checkpoint
	LoadRate    float64       // Store.Append rate of the background load, events/s
	Checkpoints int           // checkpoints published while measured
	Covered     int           // of which a checkpoint at least as large got all three cosignatures
	P50, P99    time.Duration // checkpoint stored → a checkpoint of at least its size cosigned by all three
	Max         time.Duration
}

// SealRatio and SealRatioWith are the seal rates over the append rate.
func (w WitnessResult) SealRatio() float64     { return w.SealRate / w.AppendRate }
func (w WitnessResult) SealRatioWith() float64 { return w.SealRateWith / w.AppendRate }

func (c Config) checkWitness() error {
	if c.WitnessCheckpoints < 2 {
		return fmt.Errorf("witness: checkpoints must be at least 2, got %d", c.WitnessCheckpoints)
	}
	return nil
}

// witnessRig is three witnesses behind loopback HTTP servers, timing their
// successful rounds.
type witnessRig struct {
	targets []witnesspush.Target
	keys    []string
	srvs    []*http.Server

	mu     sync.Mutex
	rounds []time.Duration
}

func (r *runner) startWitnesses(logKey string) (*witnessRig, error) {
	lv, err := note.NewVerifier(logKey)
	if err != nil {
		return nil, err
	}
	rig := &witnessRig{}
	for i := range witnessCount {
		skey, _, err := seal.GenerateKey(fmt.Sprintf("w%d.bench/witness", i))
		if err != nil {
			return nil, err
		}
		w, err := witness.New(witness.Config{Key: skey, Logs: []witness.Log{{Origin: Origin, Key: lv}}, Dir: subdir(r.dir, fmt.Sprintf("witness-%d", i)), Log: r.quiet})
		if err != nil {
			rig.close()
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			rig.close()
			return nil, err
		}
		srv := &http.Server{Handler: rig.timed(w), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		rig.srvs = append(rig.srvs, srv)
		rig.keys = append(rig.keys, w.VerifierKey())
		rig.targets = append(rig.targets, witnesspush.Target{Key: w.VerifierKey(), URL: "http://" + ln.Addr().String()})
	}
	return rig, nil
}

// statusRecorder keeps the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (rig *witnessRig) timed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, req)
		if rec.status == http.StatusOK {
			took := time.Since(start)
			rig.mu.Lock()
			rig.rounds = append(rig.rounds, took)
			rig.mu.Unlock()
		}
	})
}

func (rig *witnessRig) roundCount() int {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	return len(rig.rounds)
}

func (rig *witnessRig) close() {
	for _, s := range rig.srvs {
		s.Close()
	}
}

// benchWitness runs the witness part on servers of its own.
func (r *runner) benchWitness(ctx context.Context, rep *Report) (WitnessResult, error) {
	n := r.cfg.Events
	res := WitnessResult{Events: uint64(n)}
	b, err := prepare(ctx, r.gen, n)
	if err != nil {
		return res, err
	}
	appendTime, sealA, err := r.witnessBaseline(ctx, b, n)
	if err != nil {
		return res, err
	}
	var sealB time.Duration
	// With three witnesses: the pusher runs from the start, as in the
	// backend, and pushes every checkpoint the sealer publishes.
	env, err := r.startNATS(ctx, "witness-b")
	if err != nil {
		return res, err
	}
	defer env.close()
	se, err := openSeal(ctx, env.js)
	if err != nil {
		return res, err
	}
	rig, err := r.startWitnesses(se.vkey)
	if err != nil {
		return res, err
	}
	defer rig.close()
	cos, err := seal.OpenCosignatures(ctx, env.js, se.cps, seal.CosignaturesConfig{Witnesses: rig.keys, Logger: r.quiet})
	if err != nil {
		return res, err
	}
	prover := seal.NewProver(se.cps, se.tiles)
	startPusher := func(poll time.Duration) (stop func()) {
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			witnesspush.Run(pctx, witnesspush.Config{Witnesses: rig.targets, Log: prover, Store: cos, Poll: poll, Logger: r.quiet})
		}()
		return func() { cancel(); <-done }
	}
	stop := startPusher(0) // the backend's default poll
	took, err := r.appendBatch(ctx, env, b, "witness: fill (three witnesses)")
	appendTime += took
	if err != nil {
		stop()
		return res, err
	}
	before := rig.roundCount()
	sealB, _, err = r.sealFresh(ctx, env, se, uint64(n), "witness: seal (three witnesses)")
	if err != nil {
		stop()
		return res, err
	}
	res.PushedWhileSeal = rig.roundCount() - before
	res.AppendRate = float64(2*n) / appendTime.Seconds()
	res.SealRate = float64(n) / sealA.Seconds()
	res.SealRateWith = float64(n) / sealB.Seconds()

	if res.Latency, err = r.witnessLatencies(ctx, env, se, cos, uint64(n), stop, startPusher); err != nil {
		return res, err
	}
	rig.mu.Lock()
	res.Rounds = len(rig.rounds)
	res.RoundP50, res.RoundP99, _ = percentiles(rig.rounds)
	rig.mu.Unlock()
	rep.note("witness: three in-process C2SP witnesses (ops/witness) on loopback, each fsyncing its state before it cosigns; the log side is witnesspush as in the backend (sealer interval 500 ms)")
	return res, nil
}

// witnessBaseline appends b's n events to servers of their own without
// witnesses and seals them, and returns the time of each.
func (r *runner) witnessBaseline(ctx context.Context, b *batch, n int) (appendTime, sealTime time.Duration, err error) {
	env, err := r.startNATS(ctx, "witness-a")
	if err != nil {
		return 0, 0, err
	}
	defer env.close()
	se, err := openSeal(ctx, env.js)
	if err != nil {
		return 0, 0, err
	}
	if appendTime, err = r.appendBatch(ctx, env, b, "witness: fill (no witnesses)"); err != nil {
		return appendTime, 0, err
	}
	sealTime, _, err = r.sealFresh(ctx, env, se, uint64(n), "witness: seal (no witnesses)")
	return appendTime, sealTime, err
}

// witnessLatencies times checkpoints to their cosignatures under load,
// with the backend's poll and a short one; stop stops the pusher already
// running with the backend's poll, and startPusher starts one.
func (r *runner) witnessLatencies(ctx context.Context, env *natsEnv, se *sealEnv, cos *seal.Cosignatures, next uint64, stop func(), startPusher func(time.Duration) func()) ([]WitnessLatency, error) {
	var out []WitnessLatency
	for i, poll := range []time.Duration{0, 20 * time.Millisecond} {
		if i > 0 {
			stop = startPusher(poll)
		}
		lat, err := r.witnessLatency(ctx, env, se, cos, &next)
		stop()
		if err != nil {
			return out, err
		}
		lat.Poll = poll
		if poll == 0 {
			lat.Poll = 250 * time.Millisecond // witnesspush's default
		}
		out = append(out, lat)
	}
	return out, nil
}

// appendBatch appends b's events with Store.Append and returns the time.
func (r *runner) appendBatch(ctx context.Context, env *natsEnv, b *batch, label string) (time.Duration, error) {
	var done atomic.Uint64
	stop := track(r.progress, label, 0, uint64(len(b.evs)), done.Load)
	defer stop()
	start := time.Now()
	err := parallel(ctx, 0, len(b.evs), r.cfg.Concurrency, &done, func(ctx context.Context, i int) error {
		if _, err := env.store.Append(ctx, b.evs[i], events.ExpectAny()); err != nil {
			return fmt.Errorf("append event %d: %w", i, err)
		}
		return nil
	})
	return time.Since(start), err
}

// sealFresh seals env's ledger to size with a new sealer and returns the time.
func (r *runner) sealFresh(ctx context.Context, env *natsEnv, se *sealEnv, size uint64, label string) (time.Duration, seal.Status, error) {
	s, err := se.sealer(env.js, r.quiet)
	if err != nil {
		return 0, seal.Status{}, err
	}
	stop := track(r.progress, label, 0, size, func() uint64 { return s.Status().Size })
	start := time.Now()
	_, err = s.SealTo(ctx, size)
	took := time.Since(start)
	stop()
	return took, s.Status(), err
}

// witnessLatency appends in the background, runs a sealer (500 ms
// interval, the backend's), and times every checkpoint from its storage to
// the first moment a checkpoint at least as large carries all three
// cosignatures, both by the server's clock (message and KV entry times).
func (r *runner) witnessLatency(ctx context.Context, env *natsEnv, se *sealEnv, cos *seal.Cosignatures, next *uint64) (WitnessLatency, error) {
	var lat WitnessLatency
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := watchCosigning(lctx, env.js)
	if err != nil {
		return lat, err
	}
	defer w.stop()

	s, err := se.sealer(env.js, r.quiet)
	if err != nil {
		return lat, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.Run(lctx) }()

	// The load: a quarter of the appenders of the throughput parts.
	stopLoad := r.appendLoad(lctx, env, max(1, r.cfg.Concurrency/4), next, &wg)
	want := r.cfg.WitnessCheckpoints
	stopTrack := track(r.progress, "witness: checkpoints under load", 0, uint64(want), func() uint64 { return uint64(w.checkpoints()) })
	for w.checkpoints() < want {
		select {
		case <-ctx.Done():
			stopTrack()
			stopLoad()
			return lat, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	stopTrack()
	lat.LoadRate = stopLoad()
	// Let the last checkpoints be cosigned (or not: the ones never
	// covered are counted, not timed).
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		latest, err := se.cps.Latest(ctx)
		if err == nil {
			if cs, err := cos.For(ctx, latest.Size, latest.Note); err == nil && len(cs) == witnessCount {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the KV watch delivers the last entries
	cancel()
	wg.Wait()

	waits := w.waits(want)
	lat.Checkpoints, lat.Covered = want, len(waits)
	if len(waits) == 0 {
		return lat, fmt.Errorf("witness: none of %d checkpoints was cosigned by all three witnesses", want)
	}
	lat.P50, lat.P99, lat.Max = percentiles(waits)
	return lat, nil
}

// appendLoad starts conc appenders of the mixed workload (event numbers
// from next on) until ctx ends or the returned stop is called, which
// returns the rate they appended at.
func (r *runner) appendLoad(ctx context.Context, env *natsEnv, conc int, next *uint64, wg *sync.WaitGroup) (stop func() float64) {
	var appended atomic.Uint64
	start := time.Now()
	lctx, cancel := context.WithCancel(ctx)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lctx.Err() == nil {
				e, err := r.gen.mixed(atomic.AddUint64(next, 1))
				if err != nil {
					return
				}
				if _, err := env.store.Append(lctx, e, events.ExpectAny()); err == nil {
					appended.Add(1)
				}
			}
		}()
	}
	return func() float64 {
		rate := float64(appended.Load()) / time.Since(start).Seconds()
		cancel()
		return rate
	}
}

// cosigning watches new checkpoints (their sizes and the times the server
// stored them) and the cosignature bucket (when each size got its
// witnessCount-th cosignature), from server timestamps.
type cosigning struct {
	mu       sync.Mutex
	cps      []cosigned
	complete map[uint64]time.Time // size → time of its last cosignature
	count    map[uint64]int
	stop     func()
}

type cosigned struct {
	size uint64
	at   time.Time
}

func watchCosigning(ctx context.Context, js jetstream.JetStream) (*cosigning, error) {
	w := &cosigning{complete: map[uint64]time.Time{}, count: map[uint64]int{}}
	oc, err := js.OrderedConsumer(ctx, CheckpointStream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return nil, err
	}
	cc, err := oc.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		text, _, _ := strings.Cut(string(m.Data()), "\n\n")
		c, err := seal.ParseCheckpoint(text + "\n")
		if err != nil {
			return
		}
		w.mu.Lock()
		w.cps = append(w.cps, cosigned{c.Size, md.Timestamp})
		w.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, "ledger_cosignatures")
	if err != nil {
		cc.Stop()
		return nil, err
	}
	kw, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		cc.Stop()
		return nil, err
	}
	w.stop = func() { cc.Stop(); kw.Stop() }
	go func() {
		for e := range kw.Updates() {
			if e == nil {
				continue
			}
			sizeStr, _, _ := strings.Cut(e.Key(), ".")
			size, err := strconv.ParseUint(sizeStr, 10, 64)
			if err != nil {
				continue
			}
			w.mu.Lock()
			w.count[size]++
			if w.count[size] == witnessCount {
				w.complete[size] = e.Created()
			}
			w.mu.Unlock()
		}
	}()
	return w, nil
}

// checkpoints is how many new checkpoints were seen.
func (w *cosigning) checkpoints() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.cps)
}

// waits is, for each of the first n checkpoints, the time from its storage
// to the first moment a checkpoint at least as large carried all the
// cosignatures; checkpoints never covered are left out.
func (w *cosigning) waits(n int) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var waits []time.Duration
	for _, c := range w.cps[:n] {
		var first time.Time
		for size, at := range w.complete {
			if size >= c.size && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
		if first.IsZero() {
			continue
		}
		waits = append(waits, max(0, first.Sub(c.at)))
	}
	return waits
}

// percentiles returns p50, p99 and the maximum of ds (sorted in place).
func percentiles(ds []time.Duration) (p50, p99, mx time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	return quantile(ds, 0.50), quantile(ds, 0.99), ds[len(ds)-1]
}

func (w *WitnessResult) metrics(m map[string]float64) {
	m["witness_append_rate"] = w.AppendRate
	m["witness_seal_rate"] = w.SealRate
	m["witness_seal_rate_with"] = w.SealRateWith
	m["witness_seal_ratio"] = w.SealRatio()
	m["witness_seal_ratio_with"] = w.SealRatioWith()
	m["witness_round_p50_ms"] = ms(w.RoundP50)
	m["witness_round_p99_ms"] = ms(w.RoundP99)
	m["witness_rounds"] = float64(w.Rounds)
	for _, l := range w.Latency {
		k := fmt.Sprintf("witness_cosigned_poll%dms_", l.Poll.Milliseconds())
		m[k+"p50_ms"] = ms(l.P50)
		m[k+"p99_ms"] = ms(l.P99)
		m[k+"covered"] = float64(l.Covered) / float64(l.Checkpoints)
	}
}

func (w *WitnessResult) rows() []Row {
	rows := []Row{
		{
			Name:     "seal+wit",
			Workload: fmt.Sprintf("seal %d events from scratch while witnesspush pushes each new checkpoint to 3 C2SP witnesses (%d rounds answered during it); the same without witnesses: seal %s/s (ratio %.1f)", w.Events, w.PushedWhileSeal, rate(w.SealRate), w.SealRatio()),
			Baseline: fmt.Sprintf("append %s/s", rate(w.AppendRate)),
			Measured: fmt.Sprintf("seal %s/s", rate(w.SealRateWith)),
			Ratio:    w.SealRatioWith(), Target: fmt.Sprintf("≥ %.0f", TargetSeal), Met: w.SealRatioWith() >= TargetSeal,
		},
		{
			Name:     "wit round",
			Workload: fmt.Sprintf("%d add-checkpoint rounds answered 200, timed in the witness's handler (parse, log signature, consistency proof, fsync of its state, cosign)", w.Rounds),
			Baseline: "-",
			Measured: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", ms(w.RoundP50), ms(w.RoundP99)),
			Target:   "informational", Met: true,
		},
	}
	for _, l := range w.Latency {
		rows = append(rows, Row{
			Name: fmt.Sprintf("cosigned%d", l.Poll.Milliseconds()),
			Workload: fmt.Sprintf("%d checkpoints under append load (%s events/s), sealer interval 500 ms, pusher poll %s: time from a checkpoint stored to one at least as large cosigned by all 3 (%d of %d covered)",
				l.Checkpoints, rate(l.LoadRate), l.Poll, l.Covered, l.Checkpoints),
			Baseline: "-",
			Measured: fmt.Sprintf("p50 %.0f ms, p99 %.0f ms, max %.0f ms", ms(l.P50), ms(l.P99), ms(l.Max)),
			Target:   "informational", Met: true,
		})
	}
	return rows
}
