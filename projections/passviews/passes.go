// Package passes holds the views of the entry/exit pass service: the state
// of each pass and the traffic of each gate per hour (this file); who is
// inside each community, daily counts, denied scans, and flows between the
// districts of a city (views.go).
package passviews

import (
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/projections"
)

// Pass is the state of one pass.
type Pass struct {
	Holder        string `json:"holder" bson:"holder"`
	HolderOf      string `json:"holder_of" bson:"holder_of"`
	Community     string `json:"community" bson:"community"`
	NotBefore     string `json:"not_before" bson:"not_before"`
	NotAfter      string `json:"not_after" bson:"not_after"`
	Status        string `json:"status" bson:"status"` // active | revoked
	RevokedReason string `json:"revoked_reason,omitempty" bson:"revoked_reason,omitempty"`
	Scans         int64  `json:"scans" bson:"scans"`
	Denied        int64  `json:"denied" bson:"denied"`
	LastScanAt    string `json:"last_scan_at,omitempty" bson:"last_scan_at,omitempty"`
	LastGate      string `json:"last_gate,omitempty" bson:"last_gate,omitempty"`
	Inside        bool   `json:"inside" bson:"inside"` // last allowed scan was "in"
}

// Passes is the projection of pass states, keyed by pass id.
func Passes() projections.Projection {
	return projections.Define(projections.Spec[Pass]{
		Name:     "passes",
		Version:  1,
		Personal: true,
		Subjects: []string{"ledger.*.pass.*", "ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			switch p := p.(type) {
			case passevents.Issued, passevents.Revoked:
				return []string{e.Aggregate.ID}
			case passevents.Scanned:
				if p.Pass == "" {
					return nil // its holder was erased: the pass is unknown
				}
				return []string{p.Pass}
			}
			return nil
		},
		Fold: func(id string, s *Pass, e events.Event, p events.Payload) error {
			switch p := p.(type) {
			case passevents.Issued:
				s.Holder, s.HolderOf, s.Community = p.Holder, p.HolderOf, string(p.Community)
				s.NotBefore, s.NotAfter = stamp(p.NotBefore), stamp(p.NotAfter)
				s.Status, s.RevokedReason = "active", ""
			case passevents.Revoked:
				s.Status, s.RevokedReason = "revoked", p.Reason
			case passevents.Scanned:
				s.Scans++
				s.LastScanAt, s.LastGate = stamp(e.Time), e.Aggregate.ID
				if p.Decision == passevents.Deny {
					s.Denied++
				} else {
					s.Inside = p.Direction == passevents.In
				}
			}
			return nil
		},
	})
}

// GateHour counts the scans of one gate in one local hour.
type GateHour struct {
	Gate      string `json:"gate" bson:"gate"`
	Community string `json:"community" bson:"community"`
	Hour      string `json:"hour" bson:"hour"` // local (CST) hour start, RFC 3339
	In        int64  `json:"in" bson:"in"`
	Out       int64  `json:"out" bson:"out"`
	Denied    int64  `json:"denied" bson:"denied"`
}

// GateHourly is the projection of entries and exits per gate per hour, keyed
// by "<gate>@<YYYYMMDDHH>" in China Standard Time.
func GateHourly() projections.Projection {
	return projections.Define(projections.Spec[GateHour]{
		Name:     "gate_hourly",
		Version:  1,
		Subjects: []string{"ledger.*.gate.*"},
		Keys: func(e events.Event, p events.Payload) []string {
			if _, ok := p.(passevents.Scanned); ok {
				return []string{e.Aggregate.ID + "@" + e.Time.In(events.China()).Format("2006010215")}
			}
			return nil
		},
		Fold: func(id string, s *GateHour, e events.Event, p events.Payload) error {
			sc := p.(passevents.Scanned)
			s.Gate, s.Community = e.Aggregate.ID, string(sc.Community)
			s.Hour = e.Time.In(events.China()).Truncate(time.Hour).Format(time.RFC3339)
			switch {
			case sc.Decision == passevents.Deny:
				s.Denied++
			case sc.Direction == passevents.In:
				s.In++
			default:
				s.Out++
			}
			return nil
		},
	})
}

// All lists the projections of this service.
func All() []projections.Projection {
	return []projections.Projection{Passes(), GateHourly(), Inside(), CommunityDaily(), DeniedScans(), Flows()}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
