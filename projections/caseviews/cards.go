package caseviews

import (
	"slices"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/caseevents"
	"github.com/onebook/onebook/projections"
)

// Steps of a card's history besides the review decisions (caseevents.Approve,
// Return, Revoke).
const (
	StepFiled     = "filed"
	StepCorrected = "corrected"
)

// MaxHistory caps the steps a card lists. A card climbs five levels per
// round; 500 steps is a hundred rounds of correction, far beyond any real
// card. Further steps are counted in MoreHistory.
const MaxHistory = 500

// CardFields is what a report card says about the case (caseevents.Card).
type CardFields struct {
	Disease    string   `json:"disease" bson:"disease"`
	Diagnosis  string   `json:"diagnosis" bson:"diagnosis"`
	Onset      string   `json:"onset" bson:"onset"` // YYYY-MM-DD
	Diagnosed  string   `json:"diagnosed" bson:"diagnosed"`
	Reported   string   `json:"reported" bson:"reported"`
	Symptoms   []string `json:"symptoms" bson:"symptoms"`
	Residence  string   `json:"residence" bson:"residence"`
	Occupation string   `json:"occupation" bson:"occupation"`
	Severity   string   `json:"severity" bson:"severity"`
}

func cardFields(c caseevents.Card) CardFields {
	return CardFields{Disease: c.Disease, Diagnosis: c.Diagnosis, Onset: c.Onset, Diagnosed: c.Diagnosed,
		Reported: c.Reported, Symptoms: slices.Clone(c.Symptoms), Residence: string(c.Residence),
		Occupation: c.Occupation, Severity: c.Severity}
}

// Count is where a card counts for early warning (caseevents.Counted).
type Count struct {
	District string   `json:"district" bson:"district"` // 6 digits
	Day      string   `json:"day" bson:"day"`           // YYYY-MM-DD, the CST day of filing
	Disease  string   `json:"disease" bson:"disease"`
	Groups   []string `json:"groups" bson:"groups"`
}

func countOf(c caseevents.Counted) *Count {
	return &Count{District: string(c.District), Day: c.Day, Disease: c.Disease, Groups: slices.Clone(c.Groups)}
}

// Counted returns c as the event schemas carry it: what a correction names
// as Previous and a revocation as Counted.
func (c Count) Counted() caseevents.Counted {
	return caseevents.Counted{District: events.Region(c.District), Day: c.Day, Disease: c.Disease, Groups: slices.Clone(c.Groups)}
}

func sameCount(a *Count, b caseevents.Counted) bool {
	return a != nil && a.District == string(b.District) && a.Day == b.Day && a.Disease == b.Disease &&
		slices.Equal(a.Groups, b.Groups)
}

// Step is one step of a card's history.
type Step struct {
	Time     string `json:"time" bson:"time"` // RFC 3339 UTC, fixed width
	Actor    Actor  `json:"actor" bson:"actor"`
	Level    string `json:"level" bson:"level"`       // review level; "" for filed and corrected
	Decision string `json:"decision" bson:"decision"` // filed | corrected | approve | return | revoke
	Reason   string `json:"reason" bson:"reason"`     // reason of a return or revocation; note of a correction
	Round    int    `json:"round" bson:"round"`
}

// Card is one report card as it stands.
type Card struct {
	Case           string     `json:"case" bson:"case"`                       // case id (the aggregate)
	Hospital       string     `json:"hospital" bson:"hospital"`               // reporting organisation id
	HospitalRegion string     `json:"hospital_region" bson:"hospital_region"` // its region (the events' region)
	Patient        string     `json:"patient" bson:"patient"`                 // person id (blind index), never personal data
	Card           CardFields `json:"card" bson:"card"`
	Groups         []string   `json:"groups" bson:"groups"`
	// Counted is where the card counts now; nil once revoked. A correction
	// names it as Previous, a revocation as Counted.
	Counted *Count `json:"counted" bson:"counted"`
	Filed   string `json:"filed" bson:"filed"` // filing time, RFC 3339 UTC
	Status  string `json:"status" bson:"status"`
	// Level is the level awaiting review while pending (hospital after
	// filing and after each correction); otherwise the level of the last
	// decision: the one that returned or revoked it, national once approved.
	Level       string `json:"level" bson:"level"`
	Round       int    `json:"round" bson:"round"`     // 1 as filed, +1 per correction
	Updated     string `json:"updated" bson:"updated"` // time of the last step
	History     []Step `json:"history" bson:"history"`
	MoreHistory int64  `json:"more_history" bson:"more_history"` // steps not listed: the history was full
	// Anomalies counts steps that did not follow the review chain: a
	// decision by another level or round than the card awaited, a decision
	// on a card not pending, a correction of a card not returned, a second
	// filing, or a correction or revocation naming another count than the
	// card's. They are applied all the same.
	Anomalies int64 `json:"anomalies" bson:"anomalies"`
}

// Cards is the projection of report cards, keyed by case id.
func Cards() projections.Projection {
	return projections.Define(projections.Spec[Card]{
		Name:     "case_cards",
		Version:  1,
		Subjects: []string{"ledger.*." + caseevents.Kind + ".*"},
		Keys: func(e events.Event, p events.Payload) []string {
			switch p.(type) {
			case caseevents.Filed, caseevents.Corrected, caseevents.Reviewed:
				return []string{e.Aggregate.ID}
			}
			return nil
		},
		Fold: func(id string, s *Card, e events.Event, p events.Payload) error {
			s.Case = id
			if s.History == nil {
				s.History = []Step{}
			}
			at := fixed(e.Time)
			step := Step{Time: at, Actor: actorOf(e)}
			switch p := p.(type) {
			case caseevents.Filed:
				if s.Filed != "" {
					s.Anomalies++
				}
				s.Hospital, s.HospitalRegion, s.Patient = p.Hospital, string(e.Region), p.Patient
				s.Card, s.Groups = cardFields(p.Card), slices.Clone(p.Groups)
				s.Counted = countOf(caseevents.CountedAs(p.Card, p.Groups, events.Day(e.Time)))
				s.Filed, s.Status, s.Level, s.Round = at, caseevents.StatusPending, caseevents.LevelHospital, 1
				step.Decision, step.Round = StepFiled, 1
			case caseevents.Corrected:
				if s.Status != caseevents.StatusReturned || !sameCount(s.Counted, p.Previous) {
					s.Anomalies++
				}
				s.Card, s.Groups = cardFields(p.Card), slices.Clone(p.Groups)
				if p.Personal != nil && p.Patient != "" {
					s.Patient = p.Patient
				}
				s.Counted = countOf(caseevents.CountedAs(p.Card, p.Groups, p.Previous.Day))
				s.Status, s.Level = caseevents.StatusPending, caseevents.LevelHospital
				s.Round++
				step.Decision, step.Reason, step.Round = StepCorrected, p.Note, s.Round
			case caseevents.Reviewed:
				if s.Status != caseevents.StatusPending || p.Level != s.Level || p.Round != s.Round {
					s.Anomalies++
				}
				switch p.Decision {
				case caseevents.Approve:
					if next := caseevents.NextLevel(p.Level); next != "" {
						s.Status, s.Level = caseevents.StatusPending, next
					} else {
						s.Status, s.Level = caseevents.StatusApproved, p.Level
					}
				case caseevents.Return:
					s.Status, s.Level = caseevents.StatusReturned, p.Level
				case caseevents.Revoke:
					if p.Counted == nil || !sameCount(s.Counted, *p.Counted) {
						s.Anomalies++
					}
					s.Status, s.Level, s.Counted = caseevents.StatusRevoked, p.Level, nil
				}
				step.Level, step.Decision, step.Reason, step.Round = p.Level, p.Decision, p.Reason, p.Round
			default:
				return nil
			}
			s.Updated = at
			if len(s.History) >= MaxHistory {
				s.MoreHistory++
			} else {
				s.History = append(s.History, step)
			}
			return nil
		},
	})
}
