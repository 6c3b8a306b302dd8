package events

import (
	"testing"
	"time"
)

func TestDay(t *testing.T) {
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 1, 31, 15, 59, 59, 0, time.UTC), "2026-01-31"},
		{time.Date(2026, 1, 31, 16, 0, 0, 0, time.UTC), "2026-02-01"}, // midnight in Beijing
		{time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC), "2026-07-01"}, // no summer time
		{time.Date(2026, 2, 1, 0, 0, 0, 0, China()), "2026-02-01"},
	}
	for _, tt := range tests {
		if got := Day(tt.at); got != tt.want {
			t.Errorf("Day(%v) = %s, want %s", tt.at, got, tt.want)
		}
	}
}

func TestClock(t *testing.T) {
	beijing := time.FixedZone("CST", 8*3600)
	fixed := time.Date(2026, 2, 1, 8, 30, 0, 0, beijing)
	if got := Clock(func() time.Time { return fixed }).UTC(); !got.Equal(fixed) || got.Location() != time.UTC {
		t.Errorf("a set clock: %v, want %v in UTC", got, fixed)
	}
	before := time.Now()
	if got := Clock(nil).UTC(); got.Before(before) || got.Location() != time.UTC {
		t.Errorf("the nil clock: %v, want the system's time in UTC", got)
	}
}
