package auth

import (
	"testing"
	"time"
)

func TestDashboardCodesExpireAndUnblock(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	d := NewDeviceCodes(func() time.Time { return now })
	p := Principal{Subject: "s1", Role: GovAnalyst, Scope: "1101"}

	old, _, err := d.Issue(p)
	if err != nil {
		t.Fatal(err)
	}
	code, _, _ := d.Issue(p) // replaces the first
	if _, ok := d.redeem(old); ok {
		t.Fatal("a replaced code still works")
	}
	now = now.Add(DashboardCodeTTL - time.Second)
	if got, ok := d.redeem(code); !ok || got != p {
		t.Fatalf("redeem before expiry: %v %+v", ok, got)
	}
	code, _, _ = d.Issue(p)
	now = now.Add(DashboardCodeTTL)
	if _, ok := d.redeem(code); ok {
		t.Fatal("an expired code works")
	}
	// Expired codes are forgotten at the next issue.
	d.Issue(Principal{Subject: "s2", Role: GovAnalyst})
	now = now.Add(DashboardCodeTTL)
	d.Issue(Principal{Subject: "s3", Role: GovAnalyst})
	if len(d.codes) != 1 || len(d.bySubject) != 1 {
		t.Fatalf("%d codes, %d subjects kept", len(d.codes), len(d.bySubject))
	}

	for i := 0; i < DashboardFailLimit; i++ {
		d.Fail("192.0.2.1")
		now = now.Add(time.Second)
	}
	wait, blocked := d.blocked("192.0.2.1")
	if !blocked || wait <= 0 || wait > DashboardFailWindow {
		t.Fatalf("blocked %v for %v", blocked, wait)
	}
	if _, blocked := d.blocked("192.0.2.2"); blocked {
		t.Fatal("another address is blocked")
	}
	now = now.Add(wait)
	if _, blocked := d.blocked("192.0.2.1"); blocked {
		t.Fatal("still blocked after the window")
	}
}

func TestNewDashboardCodeUsesTheWholeAlphabet(t *testing.T) {
	seen := map[rune]int{}
	for i := 0; i < 2000; i++ {
		c, err := newDashboardCode()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := normalizeDashboardCode(c); !ok {
			t.Fatalf("code %q does not normalize", c)
		}
		for _, r := range c {
			seen[r]++
		}
	}
	if len(seen) != len(DashboardCodeAlphabet) {
		t.Fatalf("%d of %d characters used", len(seen), len(DashboardCodeAlphabet))
	}
	for r, n := range seen { // 16,000 draws, ~516 each
		if n < 380 || n > 660 {
			t.Errorf("%q drawn %d times", r, n)
		}
	}
}
