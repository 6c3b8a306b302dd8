package schemas

import "testing"

// TestEveryServiceRegistered checks that the registry knows an event type
// of each service's schemas: a package left out of Registry fails here.
func TestEveryServiceRegistered(t *testing.T) {
	r := Registry()
	for _, typ := range []string{"pass.scanned", "resident.registered", "staff.created", "access.logged", "org.registered",
		"case.filed", "alert.raised", "donation.pledged", "nation.checkpoint", "aggregate.cases"} {
		if r.Version(typ) == 0 {
			t.Errorf("%s is not registered", typ)
		}
	}
}
