// Package communities answers staff's reads of the pass views: who is
// inside a community, its daily counts and denials, its gates' hours, and
// the flows between the districts of a city. Each method checks the
// caller's right to the community or city and filters rows by scope before
// it returns anything, whatever the entry point (the API, a batch job); a
// read that shows persons records an access event first.
package communities

import (
	"context"
	"time"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/projections"
	"github.com/onebook/onebook/projections/passviews"
)

// Service reads the pass views for staff.
type Service struct {
	Docs projections.DocStore
	// Gates lists the ids of a community's gates.
	Gates func(community events.Region) []string
	// MaskedNames returns the masked names of persons, recording the read
	// as an access event of the principal.
	MaskedNames func(ctx context.Context, p auth.Principal, what string, persons []string) (map[string]string, error)
}

// community checks a community code and p's right to view it.
func community(p auth.Principal, c events.Region) error {
	if _, err := events.ParseRegion(string(c)); err != nil || len(c) != 12 {
		return events.Invalid("community", "community must be a 12-digit region code")
	}
	return auth.Authorize(p, auth.ActCommunityView, c)
}

// InsideRow is one person inside, with a masked name.
type InsideRow struct {
	Pass   string `json:"pass"`
	Person string `json:"person"`
	Name   string `json:"name_masked"`
	Gate   string `json:"gate"`
	Since  string `json:"since"`
}

// Inside is who is inside a community now.
type Inside struct {
	Community events.Region `json:"community"`
	Inside    []InsideRow   `json:"inside"`
	Count     int64         `json:"count"`
	Unlisted  int64         `json:"unlisted"`
}

// Inside returns who is inside community c, with masked names (a read of
// personal data: recorded as an access event of p).
func (s *Service) Inside(ctx context.Context, p auth.Principal, c events.Region) (Inside, error) {
	if err := community(p, c); err != nil {
		return Inside{}, err
	}
	in, _, err := passviews.ReadInside(ctx, s.Docs, string(c))
	if err != nil {
		return Inside{}, err
	}
	persons := make([]string, 0, len(in.Inside))
	for _, e := range in.Inside {
		persons = append(persons, e.Person)
	}
	names, err := s.MaskedNames(ctx, p, "view.inside", persons)
	if err != nil {
		return Inside{}, err
	}
	rows := make([]InsideRow, 0, len(in.Inside))
	for pass, e := range in.Inside {
		rows = append(rows, InsideRow{Pass: pass, Person: e.Person, Name: names[e.Person], Gate: e.Gate, Since: e.Since})
	}
	return Inside{Community: c, Inside: rows, Count: in.Count + in.Unlisted, Unlisted: in.Unlisted}, nil
}

// Daily returns community c's counts on day.
func (s *Service) Daily(ctx context.Context, p auth.Principal, c events.Region, day time.Time) (passviews.CommunityDay, error) {
	if err := community(p, c); err != nil {
		return passviews.CommunityDay{}, err
	}
	d, _, err := passviews.ReadDaily(ctx, s.Docs, string(c), day)
	return d, err
}

// Denied returns community c's denied scans on day.
func (s *Service) Denied(ctx context.Context, p auth.Principal, c events.Region, day time.Time) (passviews.DeniedDay, error) {
	if err := community(p, c); err != nil {
		return passviews.DeniedDay{}, err
	}
	d, _, err := passviews.ReadDenied(ctx, s.Docs, string(c), day)
	return d, err
}

// GateHours returns the hourly scans of community c's gates on day.
func (s *Service) GateHours(ctx context.Context, p auth.Principal, c events.Region, day time.Time) ([]passviews.GateHour, error) {
	if err := community(p, c); err != nil {
		return nil, err
	}
	return passviews.ReadGateHours(ctx, s.Docs, s.Gates(c), day)
}

// Flows returns the flows between the districts of city from day from to
// day to: all of them for a caller whose scope covers the city, those into
// and out of their district for a caller of a district in it.
func (s *Service) Flows(ctx context.Context, p auth.Principal, city events.Region, from, to time.Time) ([]passviews.FlowRow, error) {
	if _, err := events.ParseRegion(string(city)); err != nil || len(city) != 4 {
		return nil, events.Invalid("city", "city must be a 4-digit region code")
	}
	district := ""
	if len(p.Scope) > len(city) && city.Covers(p.Scope) {
		if err := auth.Authorize(p, auth.ActFlows, p.Scope); err != nil {
			return nil, err
		}
		district = string(p.Scope)[:min(6, len(p.Scope))]
	} else if err := auth.Authorize(p, auth.ActFlows, city); err != nil {
		return nil, err
	}
	rows, err := passviews.ReadFlows(ctx, s.Docs, string(city), from, to)
	if err != nil {
		return nil, err
	}
	kept := []passviews.FlowRow{}
	for _, r := range rows {
		if district == "" || r.From == district || r.To == district {
			kept = append(kept, r)
		}
	}
	return kept, nil
}
