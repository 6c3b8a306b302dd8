package aggregates

import (
	"slices"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
)

// Donations is what passed through a province's donation chain on one day,
// per catalogue item, for national supervision: quantities pledged,
// handed over (every hop counts), confirmed received and consumed, and how
// many receipts were short or damaged and reviews escalated.
//
// There is no small-cell rule here: every donation event is public by
// design, quantities and parties included (README, "Material donations"),
// so a day's sum discloses nothing the province's log does not already
// show. A donation counts in the province of its event's region; a hop
// between provinces counts where it is recorded.
type Donations struct {
	Province       events.Region `json:"province" disclose:"public"`
	Day            string        `json:"day" disclose:"public"` // YYYY-MM-DD, China Standard Time
	Revision       int           `json:"revision" disclose:"public"`
	SmallCell      int64         `json:"small_cell" disclose:"public"` // recorded for the reader; not applied (see above)
	DonationTotals `disclose:"public"`
}

// DonationTotals are the day's totals; the province's view keeps them per
// day and CountDonation adds one event to them.
type DonationTotals struct {
	Items     map[string]ItemTotals `json:"items" bson:"items"` // catalogue item code → totals
	Pledges   int64                 `json:"pledges" bson:"pledges"`
	Hops      int64                 `json:"hops" bson:"hops"`         // dispatches
	Receipts  int64                 `json:"receipts" bson:"receipts"` // confirmed hops
	Short     int64                 `json:"short" bson:"short"`       // receipts flagged short
	Damaged   int64                 `json:"damaged" bson:"damaged"`   // receipts in damaged condition
	Escalated int64                 `json:"escalated" bson:"escalated"`
	Consumed  int64                 `json:"consumptions" bson:"consumptions"`   // consumption records
	Unknown   int64                 `json:"unknown_items" bson:"unknown_items"` // lines of items not in the catalogue (never expected)
}

// ItemTotals are the quantities of one item (in its catalogue unit).
type ItemTotals struct {
	Pledged    int64 `json:"pledged" bson:"pledged"`
	Dispatched int64 `json:"dispatched" bson:"dispatched"`
	Received   int64 `json:"received" bson:"received"`
	Consumed   int64 `json:"consumed" bson:"consumed"`
}

// DonationDay is the day (YYYY-MM-DD, CST) a donation event counts on, and
// whether it counts at all: a consumption on the day it names, every
// other donation event on the day it was recorded.
func DonationDay(e events.Event, p events.Payload) (string, bool) {
	switch p := p.(type) {
	case donationevents.Consumed:
		return p.Day, true
	case donationevents.Pledged, donationevents.Dispatched, donationevents.Received, donationevents.Escalated:
		return events.Day(e.Time), true
	}
	return "", false
}

// CountDonation adds donation event payload p to t. It is the one rule of
// what a donation event adds to a day; events that add nothing (needs,
// reviews) leave t as it is.
func CountDonation(t *DonationTotals, p events.Payload) {
	if t.Items == nil {
		t.Items = map[string]ItemTotals{}
	}
	add := func(item string, f func(*ItemTotals)) {
		if _, ok := donationevents.LookupItem(item); !ok {
			t.Unknown++
			return
		}
		it := t.Items[item]
		f(&it)
		t.Items[item] = it
	}
	switch p := p.(type) {
	case donationevents.Pledged:
		t.Pledges++
		for _, l := range p.Lines {
			add(l.Item, func(it *ItemTotals) { it.Pledged += l.Quantity })
		}
	case donationevents.Dispatched:
		t.Hops++
		for _, l := range p.Lots {
			add(l.Item, func(it *ItemTotals) { it.Dispatched += l.Quantity })
		}
	case donationevents.Received:
		t.Receipts++
		if slices.Contains(p.Flags, donationevents.FlagShort) {
			t.Short++
		}
		if p.Condition == donationevents.Damaged {
			t.Damaged++
		}
		for _, l := range p.Lots {
			add(l.Item, func(it *ItemTotals) { it.Received += l.Quantity })
		}
	case donationevents.Escalated:
		t.Escalated++
	case donationevents.Consumed:
		t.Consumed++
		add(p.Item, func(it *ItemTotals) { it.Consumed += p.Quantity })
	}
}

// DonationFigure is the Donations figure of province on day from the
// day's totals. Revision is left 0 for the publisher to set.
func DonationFigure(province events.Region, day string, k int64, t DonationTotals) Donations {
	items := make(map[string]ItemTotals, len(t.Items))
	for code, it := range t.Items {
		if it != (ItemTotals{}) {
			items[code] = it
		}
	}
	t.Items = items
	return Donations{Province: province, Day: day, SmallCell: k, DonationTotals: t}
}

// Empty reports whether nothing happened that day.
func (t DonationTotals) Empty() bool {
	return len(t.Items) == 0 && t.Pledges == 0 && t.Hops == 0 && t.Receipts == 0 && t.Escalated == 0 && t.Consumed == 0 && t.Unknown == 0
}

func (p Donations) Validate() error {
	if err := checkHeader(p.Province, p.Day, p.Revision, p.SmallCell); err != nil {
		return err
	}
	for code, it := range p.Items {
		if _, ok := donationevents.LookupItem(code); !ok {
			return events.Invalid("items", "unknown item %q", code)
		}
		if it.Pledged < 0 || it.Dispatched < 0 || it.Received < 0 || it.Consumed < 0 {
			return events.Invalid("items", "%s: quantities must not be negative", code)
		}
	}
	for _, n := range []int64{p.Pledges, p.Hops, p.Receipts, p.Short, p.Damaged, p.Escalated, p.Consumed, p.Unknown} {
		if n < 0 {
			return events.Invalid("pledges", "counts must not be negative")
		}
	}
	return nil
}
