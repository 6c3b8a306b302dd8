// Package audit answers auditors' questions from the access log's views:
// who read a case's data, when and for what purpose; and what case data a
// staff member read. Each method checks that the caller is an auditor whose
// scope covers the case or the staff account before it reads anything.
package audit

import (
	"context"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/caseviews"
)

// Service reads the access views for auditors.
type Service struct {
	Docs projections.DocStore
	// Card returns the regions a case card belongs to (its hospital's and
	// the patient's residence); ok is false for an unknown card.
	Card func(id string) (hospital, residence events.Region, ok bool)
	// StaffScope returns the scope of a staff account.
	StaffScope func(id string) (events.Region, bool)
}

// Case returns who read case id's data. A card outside p's scope is
// answered as unknown.
func (s *Service) Case(ctx context.Context, p auth.Principal, id string) (caseviews.CaseReads, error) {
	if err := auth.Authorize(p, auth.ActAudit, ""); err != nil {
		return caseviews.CaseReads{}, err
	}
	hospital, residence, ok := s.Card(id)
	if !ok || (!p.Scope.Covers(hospital) && !p.Scope.Covers(residence)) {
		return caseviews.CaseReads{}, events.Errorf(events.CodeNotFound, "no card %s", id)
	}
	reads, _, err := caseviews.ReadReads(ctx, s.Docs, id)
	if err != nil {
		return caseviews.CaseReads{}, err
	}
	if reads.Reads == nil {
		reads.Reads = []caseviews.CaseRead{}
	}
	reads.Case = id
	return reads, nil
}

// Staff returns what case data staff member id read from day from to day
// to. An account outside p's scope is answered as unknown.
func (s *Service) Staff(ctx context.Context, p auth.Principal, id, from, to string) ([]caseviews.StaffDay, error) {
	if err := auth.Authorize(p, auth.ActAudit, ""); err != nil {
		return nil, err
	}
	scope, ok := s.StaffScope(id)
	if !ok || !p.Scope.Covers(scope) {
		return nil, events.Errorf(events.CodeNotFound, "no staff account %s in your scope", id)
	}
	return caseviews.ReadStaffReads(ctx, s.Docs, id, from, to)
}
