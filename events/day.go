package events

import "time"

// china is China Standard Time, UTC+8, a fixed zone: China has no daylight
// saving time. It is unexported so that nobody can change it.
var china = time.FixedZone("CST", 8*3600)

// China returns China Standard Time, the zone of every calendar day onebook
// counts in: the day of a declaration, a scan, a case card's filing, a
// stock figure or an alert. Each of them calls Day (or uses this zone), so
// that a service and a projection never disagree on which day an event
// counts in.
func China() *time.Location { return china }

// DayLayout is the layout of a calendar day, YYYY-MM-DD.
const DayLayout = time.DateOnly

// Day is the calendar day (YYYY-MM-DD) of t in China Standard Time.
func Day(t time.Time) string { return t.In(china).Format(DayLayout) }

// Clock is a service's source of the current time; nil is the system
// clock. Tests and the demo give services a simulated one.
type Clock func() time.Time

// UTC is the clock's time now, in UTC.
func (c Clock) UTC() time.Time {
	if c == nil {
		return time.Now().UTC()
	}
	return c().UTC()
}
