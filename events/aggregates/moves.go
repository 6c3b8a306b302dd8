package aggregates

import (
	"slices"

	"github.com/onebook/onebook/events"
)

// Moves is the people who arrived in a province from other provinces on one
// day, counted by the province they came from.
//
// What a province can honestly count. Its ledger holds only what happened
// in it: gate scans at its own gates (a pass opens only its own
// community's gates, so a person's scans in two provinces are in two
// ledgers that no one joins), household transfers between its own
// households (a move to another province's household is not a transfer
// either ledger can confirm alone), and its residents' daily health
// declarations, which list the regions each declarant stayed in during
// the last 14 days (residents.Declared.Visited). The last is the one
// record of a crossing: a resident of P who declares a stay in a region of
// Q has come from Q to P within 14 days. So an arrival from Q on day D is
// a person whose declaration recorded in P on D names a region of Q, and
// whose declarations of D-1 did not: a stay is counted on the first day it
// is declared, not on each of the 14 days it stays in the declaration. A
// person who skips a day and declares the same stay again is counted
// again; Partial says when the views could not follow every declarant.
// Self-declared and counted where the person lives, it is the inflow a
// province's epidemic control acts on, and the only one it can vouch for.
//
// Small cells: a province of origin with fewer than SmallCell arrivals is
// not named; they count in Other.
type Moves struct {
	Province  events.Region    `json:"province" disclose:"public"` // 2 digits: where they arrived
	Day       string           `json:"day" disclose:"public"`      // YYYY-MM-DD, China Standard Time
	Revision  int              `json:"revision" disclose:"public"`
	SmallCell int64            `json:"small_cell" disclose:"public"`
	From      map[string]int64 `json:"from" disclose:"public"`  // province of origin → arrivals
	Other     int64            `json:"other" disclose:"public"` // arrivals from provinces not named
	// Partial: some declarations of that day or the day before could not
	// be followed (passviews.MaxArrivalPersons), so the counts may be off
	// either way.
	Partial bool `json:"partial" disclose:"public"`
}

// MoveFigure computes the Moves figure of province on day from the other
// provinces each declarant named on that day (today) and on the day
// before (yesterday), by person, applying the small-cell rule with
// threshold k. Person ids stay in the province: only counts come out.
// Revision is left 0 for the publisher to set.
func MoveFigure(province events.Region, day string, k int64, today, yesterday map[string][]string, partial bool) Moves {
	out := Moves{Province: province, Day: day, SmallCell: k, From: map[string]int64{}, Partial: partial}
	for person, named := range today {
		before := yesterday[person]
		seen := map[string]bool{}
		for _, q := range named {
			if q == string(province) || seen[q] || slices.Contains(before, q) {
				continue
			}
			if !isProvince(q) {
				continue
			}
			seen[q] = true
			out.From[q]++
		}
	}
	for _, q := range sortedKeys(out.From) {
		if n := out.From[q]; n < k {
			out.Other += n
			delete(out.From, q)
		}
	}
	return out
}

func (p Moves) Validate() error {
	if err := checkHeader(p.Province, p.Day, p.Revision, p.SmallCell); err != nil {
		return err
	}
	province := func(q string) bool { return isProvince(q) && q != string(p.Province) }
	if err := checkCounts("from", p.From, p.SmallCell, province, nil); err != nil {
		return err
	}
	if p.Other < 0 {
		return events.Invalid("other", "must not be negative")
	}
	return nil
}
