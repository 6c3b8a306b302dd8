package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/exports"
	"github.com/onebook/onebook/backend/national"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/access"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/seal"
	"github.com/onebook/onebook/projections"
)

// ExportViews are the views a bundle of cell's ledger can be of: every
// projection the cell keeps (CellProjections) and the event views; for
// the national cell, the national views (national.Projections), which it
// folds from the provinces' figures, and no event view (it holds no raw
// event).
func ExportViews(cell events.Region) []exports.View {
	if cell == partition.Nation {
		return exports.ProjectionViews(national.Projections())
	}
	return exports.Views(CellProjections(cell))
}

// ExportProjections are the projections of every view a bundle of any
// cell can be of: what ops verify-export re-folds a bundle's rows with,
// knowing only the view the bundle names.
func ExportProjections() []projections.Projection {
	return slices.Concat(Projections(), ProvinceProjections(), national.Projections())
}

// exporter implements api.Exporter with the ledger, its tiles and the
// newest checkpoint the witnesses cosigned (seal.Cosignatures.Witnessed,
// its cosignatures in the bundle's manifest, so that a recipient with a
// witness policy can check it offline), and the seal key that signs
// manifests.
type exporter struct {
	led    *Ledger
	cosigs *seal.Cosignatures // bundles are made against the checkpoint the witnesses cosigned
	js     jetstream.JetStream
	reg    *events.Registry
	signer note.Signer
	views  []exports.View
}

// Views implements api.Exporter: the views p may export.
func (x *exporter) Views(p auth.Principal) ([]exports.View, error) {
	if err := auth.Authorize(p, auth.ActExport, ""); err != nil {
		return nil, err
	}
	return x.views, nil
}

// Export implements api.Exporter. q.Region "" is the caller's scope, which
// must cover the region asked for. The export is recorded as an access
// event before any bundle is written.
func (x *exporter) Export(ctx context.Context, p auth.Principal, view string, q exports.Query, format, reason, dir string) (exports.Manifest, error) {
	if err := auth.Authorize(p, auth.ActExport, ""); err != nil {
		return exports.Manifest{}, err
	}
	v, ok := exports.Lookup(x.views, view)
	if !ok {
		return exports.Manifest{}, events.Errorf(events.CodeNotFound, "no export view %q (GET /exports lists them)", view)
	}
	if format != exports.CSV && format != exports.XLSX {
		return exports.Manifest{}, events.Invalid("format", "must be csv or xlsx")
	}
	if q.Region == "" {
		q.Region = p.Scope
	}
	if err := auth.Authorize(p, auth.ActExport, q.Region); err != nil {
		return exports.Manifest{}, err
	}
	if q.Region == events.National {
		q.Region = ""
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return exports.Manifest{}, events.Invalid("to", "the range ends before it starts")
	}
	reason = strings.TrimSpace(reason)
	if len([]rune(reason)) < 4 || len(reason) > 500 {
		return exports.Manifest{}, events.Invalid("reason", "say why you export (4 characters to 500 bytes)")
	}
	cp, err := x.cosigs.Witnessed(ctx)
	if err != nil {
		return exports.Manifest{}, err
	}
	query := map[string]string{"view": v.Name, "format": format, "region": string(q.Region), "prefix": q.Prefix, "tree_size": fmt.Sprint(cp.Size)}
	if !q.From.IsZero() {
		query["from"] = q.From.Format(time.RFC3339)
	}
	if !q.To.IsZero() {
		query["to"] = q.To.Format(time.RFC3339)
	}
	if _, err := access.Record(ctx, x.led.Store, x.reg, p.Actor(), p.Scope, time.Now().UTC(), access.Logged{What: "export." + v.Name, Purpose: reason, Query: query, Identity: "masked"}); err != nil {
		return exports.Manifest{}, err
	}
	src := exports.Source{JS: x.js, Stream: x.led.Store.Stream(), Reg: x.reg, Tiles: x.led.Tiles, Checkpoint: cp, Signer: x.signer}
	return exports.Write(ctx, src, v, q, format, dir, nil)
}

// witnessedProver proves against the newest checkpoint the witnesses
// cosigned, its cosignatures attached (seal.Cosignatures.Witnessed), so
// that a public donation trace meets the witness policy of the client
// checking it.
type witnessedProver struct {
	*seal.Prover
	cos *seal.Cosignatures
}

// Latest implements donations.Prover.
func (p witnessedProver) Latest(ctx context.Context) ([]byte, uint64, tlog.Hash, error) {
	sc, err := p.cos.Witnessed(ctx)
	if err != nil {
		return nil, 0, tlog.Hash{}, err
	}
	return sc.Note, sc.Size, sc.Hash, nil
}
