package donationviews

import (
	"slices"
	"strings"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/donationevents"
	"github.com/onebook/onebook/projections"
)

// What donation_index documents index donations by.
const (
	ByOrg    = "org"    // an organisation: donor, sender or named receiver
	ByItem   = "item"   // a catalogue item code
	ByRegion = "region" // the donation's region, cut to 2, 4 and 6 digits, or "CN"
)

// MaxIndexDonations caps the donations one index document lists (about 30
// bytes each); further additions are counted in Overflow.
const MaxIndexDonations = 10_000

// IndexKey is the donation_index document id of the donations indexed by
// by (ByOrg, ByItem, ByRegion) under key in month (YYYY-MM, CST):
// "<by>:<key>@YYYYMM", e.g. "org:h-1@202611", "item:mask_n95@202611",
// "region:1101@202611", "region:CN@202611".
func IndexKey(by, key, month string) string {
	return by + ":" + key + "@" + strings.ReplaceAll(month, "-", "")
}

// monthOf returns the local (CST) month of t, YYYY-MM.
func monthOf(t time.Time) string { return t.In(events.China()).Format("2006-01") }

// regionCuts returns the regions a donation of region r is indexed under:
// r cut to 2, 4 and 6 digits as far as it is long enough; "CN" as is.
func regionCuts(r events.Region) []string {
	if r == events.National {
		return []string{string(r)}
	}
	var out []string
	for _, n := range []int{2, 4, 6} {
		if len(r) >= n {
			out = append(out, string(r[:n]))
		}
	}
	return out
}

// Index lists the donations that concern one organisation, item or
// region in one local month, in the order they first did.
type Index struct {
	By        string   `json:"by" bson:"by"`
	Key       string   `json:"key" bson:"key"`
	Month     string   `json:"month" bson:"month"` // YYYY-MM, CST
	Donations []string `json:"donations" bson:"donations"`
	// Overflow counts events of donations not listed because the list
	// was full (one donation may be counted more than once).
	Overflow int64 `json:"overflow" bson:"overflow"`
}

// indexKeys returns the index documents event e of donation payload p
// touches.
func indexKeys(e events.Event, p events.Payload) []string {
	month := monthOf(e.Time)
	var keys []string
	add := func(by, key string) {
		if key != "" {
			keys = appendKey(keys, IndexKey(by, key, month))
		}
	}
	org := func(kind, id string) {
		if kind == donationevents.PartyOrg && isToken(id) {
			add(ByOrg, id)
		}
	}
	item := func(code string) {
		if _, ok := donationevents.LookupItem(code); ok {
			add(ByItem, code)
		}
	}
	switch p := p.(type) {
	case donationevents.Pledged:
		org(p.Donor.Kind, p.Donor.ID)
		for _, l := range p.Lines {
			item(l.Item)
		}
	case donationevents.Dispatched:
		org(p.From.Kind, p.From.ID)
		org(donationevents.PartyOrg, p.To.Org)
		for _, l := range p.Lots {
			item(l.Item)
		}
	case donationevents.Received:
		for _, l := range p.Lots {
			item(l.Item)
		}
	case donationevents.Reviewed, donationevents.Escalated:
	default:
		return nil
	}
	if _, err := events.ParseRegion(string(e.Region)); err == nil {
		for _, r := range regionCuts(e.Region) {
			add(ByRegion, r)
		}
	}
	return keys
}

// Supervision is the index of donations for regulators (IndexKey): every
// donation event lists the donation under its region (cut to 2, 4 and 6
// digits, or "CN") in the local month of the event; a pledge also under
// the donor organisation and the items of its lines, a dispatch under the
// sending organisation, the named receiver and the items of its lots, a
// receipt under the items of its lots. A receipt does not name its
// receiver: the receiver is listed in the month the hop was dispatched to
// it.
func Supervision() projections.Projection {
	return projections.Define(projections.Spec[Index]{
		Name:     "donation_index",
		Version:  1,
		Subjects: []string{donationSubject},
		Keys:     indexKeys,
		Fold: func(id string, s *Index, e events.Event, p events.Payload) error {
			if s.Donations == nil {
				by, rest, _ := strings.Cut(id, ":")
				i := strings.LastIndexByte(rest, '@')
				if i < 0 || len(rest)-i != 7 {
					return nil // not a key of Keys
				}
				s.By, s.Key, s.Month = by, rest[:i], rest[i+1:i+5]+"-"+rest[i+5:]
				s.Donations = []string{}
			}
			d := e.Aggregate.ID
			switch {
			case slices.Contains(s.Donations, d):
			case len(s.Donations) >= MaxIndexDonations:
				s.Overflow++
			default:
				s.Donations = append(s.Donations, d)
			}
			return nil
		},
	})
}
