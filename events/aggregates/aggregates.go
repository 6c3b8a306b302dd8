// Package aggregates holds the event schemas of what a province tells the
// nation: per day, its case counts per city and disease, the arrivals of
// people from other provinces, and its donation totals. Raw events never
// leave a province (README, "A ledger per province"); these do, through
// the province's OUTBOX stream (events/outbox), and the national views
// fold nothing else.
//
// Every field is public by design: a figure is a count over a province's
// day, and counts below the deployment's small-cell threshold are not
// shown cell by cell (see SmallCell). Each figure is computed by one pure
// function of this package (CaseFigure, MoveFigure, DonationFigure) that
// the province publisher calls; the national views fold the events and
// never recompute a figure.
//
// # One aggregate per province, day and figure
//
// The aggregate of a figure is (Kind, AggregateID(figure, province, day)),
// its region the province. Its first event is revision 1; when the
// province's data for that day changes (a late report, a correction, a
// revoked card), the publisher appends the whole figure again as the next
// revision. A reader keeps the latest revision of each aggregate: a
// correction replaces, never adds. The event id is derived from the
// aggregate, the revision and the figure's content (EventID), so that a
// retried or restarted publisher records nothing twice.
package aggregates

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/events"
)

// Event types and the aggregate kind.
const (
	TypeCases     = "aggregate.cases"
	TypeMoves     = "aggregate.moves"
	TypeDonations = "aggregate.donations"

	Kind = "province_day" // one figure of one province on one day; its revisions
)

// Figures names the figures, as they appear in aggregate ids.
const (
	FigureCases     = "cases"
	FigureMoves     = "moves"
	FigureDonations = "donations"
)

// Figures lists the figures with their event types, in publishing order.
func Figures() []struct{ Figure, Type string } {
	return []struct{ Figure, Type string }{{FigureCases, TypeCases}, {FigureMoves, TypeMoves}, {FigureDonations, TypeDonations}}
}

// Register adds the aggregate events to r.
func Register(r *events.Registry) {
	events.Register[Cases](r, TypeCases, Kind, 1)
	events.Register[Moves](r, TypeMoves, Kind, 1)
	events.Register[Donations](r, TypeDonations, Kind, 1)
}

// DefaultSmallCell is the small-cell threshold when a deployment sets none
// (ONEBOOK_SMALL_CELL): a count of 1 to 4 is not shown in its cell. Five is
// the usual floor of statistical offices for published tables of health
// data; a deployment may raise it.
const DefaultSmallCell = 5

// AggregateID is the aggregate id of figure for province on day
// (YYYY-MM-DD): "<figure>-<province>-YYYYMMDD", e.g. "cases-31-20261125".
func AggregateID(figure string, province events.Region, day string) string {
	return figure + "-" + string(province) + "-" + strings.ReplaceAll(day, "-", "")
}

// Aggregate is the aggregate of figure for province on day.
func Aggregate(figure string, province events.Region, day string) events.Aggregate {
	return events.Aggregate{Kind: Kind, ID: AggregateID(figure, province, day)}
}

// namespace is the UUID namespace of aggregate event ids (a UUIDv5 of a
// fixed name, so that every build derives the same ids).
var namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://onebook/aggregates"))

// EventID is the id of the event recording revision of figure p of
// aggregate agg: a UUIDv5 of the aggregate, the revision and p's JSON.
// The same figure at the same revision always gets the same id, so that a
// retry is a duplicate; a different figure gets another id, so that two
// publishers computing different figures for one revision conflict on the
// aggregate's expected sequence instead of one silently winning the
// ledger's deduplication.
func EventID(agg events.Aggregate, revision int, p events.Payload) (string, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return "", events.Errorf(events.CodeInternal, "aggregate %s: encode figure: %v", agg.ID, err)
	}
	h := sha256.Sum256(body)
	name := agg.Kind + "/" + agg.ID + "/" + itoa(revision) + "/" + string(h[:])
	return uuid.NewSHA1(namespace, []byte(name)).String(), nil
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// isProvince reports whether s is a 2-digit province code ("CN", the
// country, is not one).
func isProvince(s string) bool {
	r, err := events.ParseRegion(s)
	return err == nil && len(r) == 2 && r != events.National
}

// checkHeader checks what every figure carries.
func checkHeader(province events.Region, day string, revision int, smallCell int64) error {
	if !isProvince(string(province)) {
		return events.Invalid("province", "must be a 2-digit province code, got %q", province)
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return events.Invalid("day", "must be YYYY-MM-DD, got %q", day)
	}
	if revision < 1 {
		return events.Invalid("revision", "must be at least 1")
	}
	if smallCell < 1 || smallCell > 100 {
		return events.Invalid("small_cell", "must be 1 to 100, not %d", smallCell)
	}
	return nil
}

// checkCounts checks a map of counts: keys allowed by ok, every shown
// count at least smallCell unless exempt says otherwise.
func checkCounts(field string, m map[string]int64, smallCell int64, ok func(string) bool, exempt func(string) bool) error {
	for k, n := range m {
		switch {
		case !ok(k):
			return events.Invalid(field, "unknown key %q", k)
		case n < 1:
			return events.Invalid(field, "%s: a count must be positive, not %d", k, n)
		case n < smallCell && (exempt == nil || !exempt(k)):
			return events.Invalid(field, "%s: %d is below the small-cell threshold %d", k, n, smallCell)
		}
	}
	return nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
