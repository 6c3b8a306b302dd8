// Package donations holds the read models of material donations (善踪):
//
//   - donation_needs: each need of a hospital as it stands (Needs), with
//     what was pledged against it; what was received is joined at read
//     time (ReadNeed), see below;
//   - donations: each donation with its donor, lines, every hop with its
//     receipt, its reviews and its escalation (Donations);
//   - donation_stock: per organisation, item and specification, what the
//     organisation pledged, dispatched and consumed, its daily consumption
//     and the hops dispatched to it; what it received is joined at read
//     time (ReadStock), see below;
//   - donation_index: which donations concern an organisation, an item or
//     a region in a month (Supervision), for regulators.
//
// Every projection is a pure fold of ledger events, one document per key,
// and every read goes by _id only (FerretDB v1 pushes down nothing else):
// the reader knows the ids.
//
// # Receipts
//
// A donation.received event names the donation and the hop, not the
// receiving organisation (named by the hop's donation.dispatched event) nor
// the need the donation was pledged against (named by its
// donation.pledged event). Keys sees one event and no state, so a receipt
// cannot be routed to the receiver's stock or to the need. Both joins are
// therefore done at read time, from documents the events can be routed to:
//
//   - donation_needs holds, besides one document per need ("need:<id>",
//     listing the donations pledged against it), one small link document
//     per donation ("donation:<id>": its need, the receiver of each hop
//     and what each receiver confirmed, by item and specification).
//     ReadNeed reads the need and the links of its donations and counts
//     what was received at the need's hospital of the need's item and
//     specification, as the donation service does.
//   - donation_stock holds, besides one document per organisation, item
//     and specification ("<org>|<item>|<spec>", listing the hops
//     dispatched to the organisation with that item), one document per hop
//     ("hop:<donation>#<n>": its receiver, what was sent and what was
//     confirmed). ReadStock reads the organisation's documents of every
//     catalogue item and specification (the catalogue is small), then the
//     hops they list.
//
// Quantities follow the donation service (backend/donations): an
// organisation that pledges holds what it pledged until it dispatches it;
// a dispatch moves lots away from the sender; a receipt adds what arrived
// to the receiver; consumption is recorded by the hospital. On hand is
// pledged + received − dispatched − consumed.
//
// Donation events are public; the documents hold no personal data
// (individual donors appear by a pseudonymous id and the name they chose).
// The ledger sequence of an event is not known to a fold: the documents do
// not carry it (the public trace of the donation service does).
//
// Months and days are local, China Standard Time (UTC+8).
//
// A fold never fails on a well-formed event: an error would halt the
// projector. What does not fit the expected order of events (an update of
// a need never published, a receipt of a hop never dispatched, a second
// receipt of a hop) is applied as far as it can be and counted in the
// document's Anomalies, so that it is visible rather than hidden.
package donationviews

import (
	"slices"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/projections"
)

// Formats of keys and stored times. Stored times are RFC 3339 UTC with a
// fixed-width fraction, so they are exact and sort as text.
const (
	monthKey = "200601"
	timeText = "2006-01-02T15:04:05.000000000Z07:00"
)

func fixed(t time.Time) string { return t.UTC().Format(timeText) }

// isToken reports whether s is an aggregate id: 1 to 64 of [A-Za-z0-9_-].
// Ids that go into document keys must be: the keys are split on ':', '|',
// '#' and '@'.
func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// inCatalogue reports whether item and spec name a catalogue entry.
// Validated events always do.
func inCatalogue(item, spec string) bool {
	it, ok := donationevents.LookupItem(item)
	return ok && slices.Contains(it.Specs, spec)
}

// Actor is who took a step: the role and account id of the event's actor.
type Actor struct {
	Role string `json:"role" bson:"role"`
	ID   string `json:"id" bson:"id"`
}

func actorOf(e events.Event) Actor { return Actor{Role: e.Actor.Role, ID: e.Actor.ID} }

// Party is who gives or holds material (donationevents.Party).
type Party struct {
	Kind string `json:"kind" bson:"kind"` // org | person
	ID   string `json:"id" bson:"id"`     // organisation id, or a person's pseudonymous account id
	Name string `json:"name" bson:"name"`
}

func partyOf(p donationevents.Party) Party { return Party{Kind: p.Kind, ID: p.ID, Name: p.Name} }

// Line is a quantity of one item of one specification (donationevents.Line).
type Line struct {
	Item     string `json:"item" bson:"item"`
	Spec     string `json:"spec" bson:"spec"`
	Quantity int64  `json:"quantity" bson:"quantity"`
}

// Lot is a line with its batch number, as handed over (donationevents.Lot). Batch
// is "" nowhere in a hop: a dispatch names the batches.
type Lot struct {
	Item     string `json:"item" bson:"item"`
	Spec     string `json:"spec" bson:"spec"`
	Batch    string `json:"batch" bson:"batch"`
	Quantity int64  `json:"quantity" bson:"quantity"`
}

func linesOf(ls []donationevents.Line) []Line {
	out := make([]Line, len(ls))
	for i, l := range ls {
		out[i] = Line{Item: l.Item, Spec: l.Spec, Quantity: l.Quantity}
	}
	return out
}

func lotsOf(ls []donationevents.Lot) []Lot {
	out := make([]Lot, len(ls))
	for i, l := range ls {
		out[i] = Lot{Item: l.Item, Spec: l.Spec, Batch: l.Batch, Quantity: l.Quantity}
	}
	return out
}

// addLine adds q of item and spec to ls, one entry per item and
// specification, in order of first appearance.
func addLine(ls []Line, item, spec string, q int64) []Line {
	for i := range ls {
		if ls[i].Item == item && ls[i].Spec == spec {
			ls[i].Quantity += q
			return ls
		}
	}
	return append(ls, Line{Item: item, Spec: spec, Quantity: q})
}

// quantityOf returns the quantity of item and spec in ls.
func quantityOf(ls []Line, item, spec string) int64 {
	var n int64
	for _, l := range ls {
		if l.Item == item && l.Spec == spec {
			n += l.Quantity
		}
	}
	return n
}

// appendKey appends k to keys unless it is there already: a document
// listed twice among an event's keys would be folded once only.
func appendKey(keys []string, k string) []string {
	if slices.Contains(keys, k) {
		return keys
	}
	return append(keys, k)
}

// Subjects of the ledger the projections read.
var (
	needSubject     = "ledger.*." + donationevents.KindNeed + ".*"
	donationSubject = "ledger.*." + donationevents.KindDonation + ".*"
	stockSubject    = "ledger.*." + donationevents.KindStock + ".*"
)

// All lists the projections of this package.
func All() []projections.Projection {
	return []projections.Projection{Needs(), Donations(), Stock(), Supervision()}
}
