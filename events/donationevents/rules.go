package donationevents

import "slices"

// The rules below derive figures from this package's events. The donation
// service (backend/donations) and the donation views (projections/donationviews)
// both call them, so that what a service decides on and what a view shows
// can never drift apart.

// Statuses of a donation.
const (
	StatusPledged   = "pledged"    // no hop dispatched yet
	StatusInTransit = "in_transit" // the last hop is not confirmed
	StatusDelivered = "delivered"  // the last hop is confirmed
	StatusEscalated = "escalated"  // review and re-review disagree: a supervisor decides
)

// Status is where a donation stands: escalated once its reviews disagree
// (Escalated); otherwise pledged before its first hop, then in transit or
// delivered as its last hop (the one with the highest number) is confirmed
// or not.
func Status(escalated bool, hops int, lastConfirmed bool) string {
	switch {
	case escalated:
		return StatusEscalated
	case hops == 0:
		return StatusPledged
	case lastConfirmed:
		return StatusDelivered
	}
	return StatusInTransit
}

// DaysLeft estimates how long onHand lasts at the mean daily consumption
// of the last 7 days with any consumption (daily: quantity consumed per day,
// YYYY-MM-DD); nil without consumption.
func DaysLeft(onHand int64, daily map[string]int64) *float64 {
	days := make([]string, 0, len(daily))
	for d := range daily {
		days = append(days, d)
	}
	slices.Sort(days)
	n := len(days)
	if n == 0 {
		return nil
	}
	recent := days[max(0, n-7):]
	var sum int64
	for _, d := range recent {
		sum += daily[d]
	}
	rate := float64(sum) / float64(len(recent))
	if rate <= 0 {
		return nil
	}
	left := float64(onHand) / rate
	return &left
}
