package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/backend/app"
	"github.com/onebook/onebook/backend/exports"
	"github.com/onebook/onebook/backend/national"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/schemas"
	"github.com/onebook/onebook/events/seal"
)

// runExport writes an export bundle of a view (backend/exports): rows as
// CSV or XLSX, each citing the ledger entries it derives from, those
// entries, the tiles proving them and a manifest signed by the seal key,
// made against the latest signed checkpoint. It reads the ledger, not the
// projection store: what it exports is what the ledger says.
func runExport(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var c conn
	c.flags(fs, env)
	list := fs.Bool("list", false, "list the views that can be exported")
	format := fs.String("format", exports.CSV, "rows as csv or xlsx")
	out := fs.String("out", "", "bundle directory to create (default ./export-VIEW-TIME)")
	region := fs.String("region", "", "only events recorded in this region (prefix)")
	prefix := fs.String("prefix", "", "aggregate views: only documents whose id starts with this")
	from := fs.String("from", "", "only events at or after this time (RFC 3339 or YYYY-MM-DD, UTC)")
	to := fs.String("to", "", "only events before this time")
	sealKey := fs.String("seal-key", env.getenv("ONEBOOK_SEAL_KEY"), "the seal's signing key file, which signs the manifest (default DATA/seal.key)")
	by := fs.String("by", "", "with --cell CN: the office or role that exports, recorded in the national ledger (public: name an office, not a person)")
	reason := fs.String("reason", "", "with --cell CN: why, recorded in the national ledger")
	witnesses := fs.String("witnesses", env.getenv("ONEBOOK_WITNESSES"), "comma-separated witness verifier keys: the bundle is made against the newest checkpoint they cosigned, with their cosignatures ($ONEBOOK_WITNESSES; the backend makes its exports so with every witness it knows)")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(args[1:], args[0]) // ops export VIEW --flags: the view may come first
	}
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cell := events.Region(c.cell)
	views := app.ExportViews(cell)
	if *list {
		for _, v := range views {
			fmt.Fprintf(env.stdout, "%s\t%s\n", v.Name, v.Description)
		}
		return nil
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: ops export VIEW --format csv|xlsx --out DIR [--region R] [--prefix P] [--from T] [--to T] (ops export --list names the views)")
	}
	v, ok := exports.Lookup(views, fs.Arg(0))
	if !ok {
		return fmt.Errorf("no view %q (ops export --list)", fs.Arg(0))
	}
	q, err := exportQuery(*region, *prefix, *from, *to)
	if err != nil {
		return err
	}
	signer, err := manifestSigner(*sealKey, c.data)
	if err != nil {
		return err
	}
	lc, err := c.openLedger(ctx)
	if err != nil {
		return err
	}
	defer lc.Close()
	cp, err := exportCheckpoint(ctx, env, lc, *witnesses)
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = fmt.Sprintf("export-%s-%s", v.Name, time.Now().UTC().Format("20060102T150405Z"))
	}
	report := progress(env.stderr, "export "+v.Name+": ledger", cp.Size)
	reg, err := exportRegistry(ctx, &c, lc, func(reg *events.Registry) error {
		return recordNationalExport(ctx, env, lc, reg, v, q, *format, cp.Size, *by, *reason)
	})
	if err != nil {
		return err
	}
	src := exports.Source{JS: lc.js, Stream: "LEDGER", Reg: reg, Tiles: lc.led.Tiles, Checkpoint: cp, Signer: signer}
	start := time.Now()
	m, err := exports.Write(ctx, src, v, q, *format, dir, func(done, total uint64) { report(done) })
	if err != nil {
		return err
	}
	report(cp.Size)
	fmt.Fprintf(env.stderr, "wrote %s: %d rows, %d ledger entries, %d tiles, against checkpoint of size %d, in %s\n",
		dir, m.RowCount, m.EntryCount, m.TileCount, m.TreeSize, time.Since(start).Round(time.Millisecond))
	fmt.Fprintln(env.stdout, dir)
	return nil
}

// exportRegistry is the registry an export reads the ledger with: in a
// province or the single ledger, the one that opens sealed fields with the
// vault (the bundle discloses the data keys of the entries it cites); in
// the national cell, the plain one, everything being public by design,
// once record has recorded the export.
func exportRegistry(ctx context.Context, c *conn, lc *ledgerConn, record func(*events.Registry) error) (*events.Registry, error) {
	if events.Region(c.cell) != partition.Nation {
		return c.sealedRegistry(ctx, lc.js)
	}
	reg := schemas.Registry()
	return reg, record(reg)
}

// recordNationalExport records the export of a national view in the
// national ledger before it is written (national.RecordExport says who
// may export and why it is recorded).
func recordNationalExport(ctx context.Context, env *environ, lc *ledgerConn, reg *events.Registry, v exports.View, q exports.Query, format string, size uint64, by, reason string) error {
	query := map[string]string{}
	if q.Prefix != "" {
		query["prefix"] = q.Prefix
	}
	if q.Region != "" {
		query["region"] = string(q.Region)
	}
	if !q.From.IsZero() {
		query["from"] = q.From.Format(time.RFC3339)
	}
	if !q.To.IsZero() {
		query["to"] = q.To.Format(time.RFC3339)
	}
	rec, err := national.RecordExport(ctx, lc.led.Store, reg, nationevents.Exported{View: v.Name, Format: format, Query: query, TreeSize: size,
		By: strings.TrimSpace(by), Reason: strings.TrimSpace(reason)}, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("%w (give --by OFFICE and --reason WHY)", err)
	}
	fmt.Fprintf(env.stderr, "export recorded in the national ledger at index %d\n", rec.LeafIndex())
	return nil
}

// manifestSigner loads the seal's signing key from the file sealKey
// (default DATA/seal.key), which signs an export's manifest.
func manifestSigner(sealKey, data string) (note.Signer, error) {
	if sealKey == "" {
		sealKey = filepath.Join(data, "seal.key")
	}
	skey, err := os.ReadFile(sealKey)
	if err != nil {
		return nil, fmt.Errorf("the manifest is signed with the seal key: %w (give --seal-key)", err)
	}
	signer, _, err := seal.LoadSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("seal key %s: %w", sealKey, err)
	}
	return signer, nil
}

// exportCheckpoint is the checkpoint an export is made against: the
// latest, or with witnesses (comma-separated verifier keys) the newest
// they cosigned, unless nothing was ever cosigned.
func exportCheckpoint(ctx context.Context, env *environ, lc *ledgerConn, witnesses string) (seal.SignedCheckpoint, error) {
	cp, err := lc.led.Prover.Checkpoint(ctx)
	if err != nil {
		return cp, fmt.Errorf("latest checkpoint: %w", err)
	}
	if witnesses == "" {
		return cp, nil
	}
	cos, err := seal.BindCosignatures(ctx, lc.js, lc.led.Checkpoints, seal.CosignaturesConfig{Witnesses: strings.Split(witnesses, ",")})
	switch {
	case events.ErrorCode(err) == events.CodeNotFound:
		fmt.Fprintln(env.stderr, "export: nothing was ever cosigned; the bundle is made against the latest checkpoint")
		return cp, nil
	case err != nil:
		return cp, err
	}
	if cp, err = cos.Witnessed(ctx); err != nil {
		return cp, fmt.Errorf("witnessed checkpoint: %w", err)
	}
	return cp, nil
}

// exportQuery parses the query flags (also the API's query parameters).
func exportQuery(region, prefix, from, to string) (exports.Query, error) {
	q := exports.Query{Prefix: prefix}
	if region != "" {
		r, err := events.ParseRegion(region)
		if err != nil {
			return q, err
		}
		q.Region = r
	}
	var err error
	if q.From, err = parseTime("from", from); err != nil {
		return q, err
	}
	if q.To, err = parseTime("to", to); err != nil {
		return q, err
	}
	return q, nil
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, events.Invalid(field, "%q is not an RFC 3339 time or a YYYY-MM-DD day", s)
}

// runVerifyExport checks a bundle offline with the verifier key alone;
// with --url it also checks that the bundle's checkpoint is a prefix of
// the server's latest one (consistency proof), so that the ledger did not
// fork or shrink since the export.
func runVerifyExport(ctx context.Context, env *environ, args []string) error {
	fs := flag.NewFlagSet("verify-export", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	key := fs.String("key", env.getenv("ONEBOOK_VERIFIER_KEY"), "onebook's verifier key (name+hash+base64) or a file holding it")
	url := fs.String("url", "", "also check consistency with the latest checkpoint of the backend at this URL")
	witnesses := fs.String("witnesses", "", "witness policy: comma-separated witness verifier keys (cosignature/v1 or plain) whose cosignatures on the bundle's checkpoint count")
	quorum := fs.Int("witness-quorum", 0, "witness policy: fail unless at least this many of --witnesses cosigned the bundle's checkpoint (default: all of them)")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(args[1:], args[0])
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *key == "" {
		return fmt.Errorf("usage: ops verify-export BUNDLE --key PUBKEY [--url URL] [--witnesses KEYS [--witness-quorum K]]")
	}
	var keys []string
	if *witnesses != "" {
		keys = strings.Split(*witnesses, ",")
		if *quorum == 0 {
			*quorum = len(keys)
		}
	}
	policy, err := seal.ParseWitnessPolicy(keys, *quorum)
	if err != nil {
		return fmt.Errorf("--witnesses/--witness-quorum: %w", err)
	}
	vkey := *key
	if _, err := note.NewVerifier(vkey); err != nil {
		b, err := os.ReadFile(vkey)
		if err != nil {
			return fmt.Errorf("verifier key: %w", err)
		}
		vkey = strings.TrimSpace(string(b))
	}
	dir := fs.Arg(0)
	var total uint64
	if b, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err == nil {
		var m exports.Manifest
		if json.Unmarshal(b, &m) == nil {
			total = uint64(m.EntryCount)
		}
	}
	report := progress(env.stderr, "verify-export: entries", total)
	exports.SetVerifierGC()
	start := time.Now()
	rep, err := exports.Verify(ctx, dir, vkey, app.ExportProjections(), schemas.Registry(), func(done, _ uint64) { report(done) })
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(env.stdout, "FAIL %s\n", p)
	}
	if rep.OK() {
		fmt.Fprintf(env.stdout, "ok   %s: view %s, %d rows, %d entries proven in the tree of size %d (root %s), signed by %s (%s)\n",
			dir, rep.Manifest.View, rep.Rows, rep.Entries, rep.Checkpoint.Size, b64hash(rep.Checkpoint.Hash), strings.SplitN(vkey, "+", 2)[0], time.Since(start).Round(time.Millisecond))
	}
	if policy.Quorum > 0 {
		have, err := policy.Check([]byte(rep.Manifest.Checkpoint))
		if err != nil {
			fmt.Fprintf(env.stdout, "FAIL the bundle's checkpoint: %v\n", err)
			return fmt.Errorf("the bundle's checkpoint does not meet the witness policy (%s)", policy)
		}
		fmt.Fprintf(env.stdout, "ok   witness policy %s: the checkpoint is cosigned by %s\n", policy, strings.Join(have, ", "))
	}
	if *url != "" && rep.Checkpoint.Size > 0 {
		if err := checkNewer(ctx, env, *url, vkey, rep.Checkpoint); err != nil {
			fmt.Fprintf(env.stdout, "FAIL consistency with %s: %v\n", *url, err)
			return fmt.Errorf("the bundle's checkpoint is not consistent with the server's")
		}
	}
	if !rep.OK() {
		return fmt.Errorf("%d problems", len(rep.Problems))
	}
	return nil
}

// checkNewer fetches the server's latest checkpoint, checks its signature
// and a consistency proof from the bundle's tree to it.
func checkNewer(ctx context.Context, env *environ, base, vkey string, old seal.Checkpoint) error {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return err
	}
	get := func(path string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		buf, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return buf, nil
	}
	nb, err := get("/ledger/checkpoint")
	if err != nil {
		return err
	}
	cur, _, err := seal.OpenCheckpoint(nb, note.VerifierList(verifier), verifier.Name())
	if err != nil {
		return fmt.Errorf("the server's checkpoint: %w", err)
	}
	if cur.Size < old.Size {
		return fmt.Errorf("the server's tree (%d) is smaller than the bundle's (%d)", cur.Size, old.Size)
	}
	pb, err := get(fmt.Sprintf("/ledger/proof/consistency?old=%d&new=%d", old.Size, cur.Size))
	if err != nil {
		return err
	}
	var p struct {
		Proof []string `json:"proof"`
	}
	if err := json.Unmarshal(pb, &p); err != nil {
		return err
	}
	proof, err := decodeHashes(p.Proof)
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(proof, int64(cur.Size), cur.Hash, int64(old.Size), old.Hash); err != nil {
		return fmt.Errorf("consistency proof: %w", err)
	}
	fmt.Fprintf(env.stdout, "ok   the bundle's tree (size %d) is a prefix of the server's (size %d)\n", old.Size, cur.Size)
	return nil
}

func b64hash(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func decodeHashes(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != len(tlog.Hash{}) {
			return nil, fmt.Errorf("bad hash %q", s)
		}
		copy(out[i][:], b)
	}
	return out, nil
}
