package partition

import (
	"slices"
	"strings"
	"testing"

	"github.com/onebook/onebook/events"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []events.Region
		err  string
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "44,11, 31,51", want: []events.Region{"11", "31", "44", "51"}},
		{in: "31", want: []events.Region{"31"}},
		{in: "31,31", err: "twice"},
		{in: "3101", err: "not a 2-digit"},
		{in: "99", err: "not a 2-digit"},
		{in: "CN", err: "not a 2-digit"},
		{in: "1a", err: "not a 2-digit"},
	} {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		cell                          events.Region
		name, account, prefix, origin string
	}{
		{"31", "p31", "P31", "/p/31", "onebook.local/ledger/p/31"},
		{Nation, "nation", "NATION", "/national", "onebook.local/ledger/national"},
	} {
		if got := Name(tc.cell); got != tc.name {
			t.Errorf("Name(%s) = %q, want %q", tc.cell, got, tc.name)
		}
		if got := Account(tc.cell); got != tc.account {
			t.Errorf("Account(%s) = %q, want %q", tc.cell, got, tc.account)
		}
		if got := Prefix(tc.cell); got != tc.prefix {
			t.Errorf("Prefix(%s) = %q, want %q", tc.cell, got, tc.prefix)
		}
		if got := Origin("onebook.local/ledger/", tc.cell); got != tc.origin {
			t.Errorf("Origin(%s) = %q, want %q", tc.cell, got, tc.origin)
		}
	}
}

func TestProvince(t *testing.T) {
	admit := Province("31")
	for _, tc := range []struct {
		region events.Region
		ok     bool
	}{
		{"31", true},
		{"3101", true},
		{"310104001001", true},
		{events.National, true},
		{"44", false},
		{"440305", false},
		{"11", false},
	} {
		err := admit(events.Event{Type: "pass.scanned", Region: tc.region})
		if tc.ok != (err == nil) {
			t.Errorf("region %s: %v, want admitted %v", tc.region, err, tc.ok)
		}
		if err != nil && (events.ErrorCode(err) != events.CodeInvalid || !strings.Contains(err.Error(), "region")) {
			t.Errorf("region %s: %v, want an invalid region", tc.region, err)
		}
	}
}

func TestNational(t *testing.T) {
	admit := National([]string{"nation.checkpoint"})
	if err := admit(events.Event{Type: "nation.checkpoint", Region: "31"}); err != nil {
		t.Errorf("a listed type is refused: %v", err)
	}
	for _, typ := range []string{"pass.scanned", "report.filed", "access.logged"} {
		err := admit(events.Event{Type: typ, Region: "310104"})
		if err == nil || events.ErrorCode(err) != events.CodeInvalid {
			t.Errorf("%s is admitted to the national ledger: %v", typ, err)
		}
	}
	if err := National(nil)(events.Event{Type: "nation.checkpoint"}); err == nil {
		t.Error("with no types listed, the national ledger admits an event")
	}
}
