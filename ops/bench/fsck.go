package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/miniapp-api/api"
)

// FsckTool is the off-the-shelf tlog-tiles auditor the fsck part runs.
const FsckTool = "github.com/transparency-dev/tessera/cmd/fsck@v1.0.4"

// FsckResult is the fsck part: tessera's fsck auditing the whole log (the
// ledger of the proof-size parts) over the C2SP tlog-tiles routes of
// miniapp-api, on loopback.
type FsckResult struct {
	Leaves     uint64
	Seconds    float64 // fsck's run, its build excluded
	Served     uint64  // tiles and entry bundles a full audit fetches
	ServerCPU  float64 // CPU seconds of this process (HTTP server, ledger, NATS) during the run
	CPUPerTile float64 // ServerCPU ÷ Served, in microseconds
}

// benchFsck builds fsck (untimed), serves the ledger as tlog-tiles and
// times fsck's audit of all of it, with the server's CPU time.
func (r *runner) benchFsck(ctx context.Context) (FsckResult, error) {
	var res FsckResult
	bin := filepath.Join(r.dir, "fsck-bin")
	install := exec.CommandContext(ctx, "go", "install", FsckTool)
	install.Dir = r.dir // outside onebook's module: the tool's own dependencies
	install.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := install.CombinedOutput(); err != nil {
		return res, fmt.Errorf("build %s: %v\n%s", FsckTool, err, out)
	}
	prover := seal.NewProver(r.seal.cps, r.seal.tiles)
	sc, err := prover.Checkpoint(ctx)
	if err != nil {
		return res, err
	}
	res.Leaves = sc.Size
	keyFile := filepath.Join(r.dir, "fsck.pub")
	if err := os.WriteFile(keyFile, []byte(r.seal.vkey+"\n"), 0o644); err != nil {
		return res, err
	}
	app := api.New(api.Config{Ledger: prover, Events: r.nats.store, Tiles: prover, Health: benchHealth{}, Log: r.log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	go app.Listener(ln)
	defer app.Shutdown()

	before := cpuSeconds()
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "fsck"), "--storage_url", "http://"+ln.Addr().String()+"/",
		"--public_key", keyFile, "--origin", Origin, "--ui=false", "-v=1", "--N", "4")
	out, err := cmd.CombinedOutput()
	res.Seconds = time.Since(start).Seconds()
	res.ServerCPU = cpuSeconds() - before
	if err != nil {
		return res, fmt.Errorf("fsck: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Successfully fsck'd log") || strings.Contains(string(out), "fsck failed") {
		return res, fmt.Errorf("fsck did not verify the log:\n%s", out)
	}
	// What a full audit fetches: every entry bundle and every tile of
	// every level.
	for per := uint64(1) << seal.TileHeight; ; per <<= seal.TileHeight {
		res.Served += (res.Leaves + per - 1) / per
		if per >= res.Leaves {
			break
		}
	}
	res.Served += (res.Leaves + 255) / 256
	res.CPUPerTile = res.ServerCPU / float64(res.Served) * 1e6
	return res, nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// benchHealth is a fixed health for the fsck part's server.
type benchHealth struct{}

func (benchHealth) Health(context.Context) api.HealthStatus { return api.HealthStatus{Ready: true} }

func (x *FsckResult) metrics(m map[string]float64) {
	m["fsck_leaves"] = float64(x.Leaves)
	m["fsck_seconds"] = x.Seconds
	m["fsck_served"] = float64(x.Served)
	m["fsck_server_cpu_seconds"] = x.ServerCPU
	m["fsck_cpu_per_tile_us"] = x.CPUPerTile
}

func (x *FsckResult) rows() []Row {
	return []Row{{
		Name: "fsck",
		Workload: fmt.Sprintf("tessera's cmd/fsck (%s, 4 workers, built untimed) audits the whole log of %d leaves over miniapp-api's C2SP tlog-tiles routes on loopback with only the verifier key: the checkpoint, %d tiles and entry bundles; server CPU = this process's (HTTP, ledger, NATS) during the run",
			FsckTool, x.Leaves, x.Served),
		Baseline: "-",
		Measured: fmt.Sprintf("%.1f s (%.0f leaves/s); server CPU %.2f s, %.0f µs per tile served", x.Seconds, float64(x.Leaves)/x.Seconds, x.ServerCPU, x.CPUPerTile),
		Target:   "informational", Met: true,
	}}
}
