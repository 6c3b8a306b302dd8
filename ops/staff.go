package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/ledger"
)

// runStaff manages staff accounts: `ops staff add --role R --scope REGION
// [--label L] [--org ORG]` creates one and prints its one-time invite code,
// which the person enters in the mini-program to bind the account to their
// WeChat. Hospital roles act for an approved hospital (--org, its
// organisation id); their scope defaults to the hospital's region.
func runStaff(ctx context.Context, env *environ, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("usage: ops staff add --role ROLE --scope REGION [--label LABEL] [--org ORG] (roles: %v)", auth.StaffRoles())
	}
	fs := flag.NewFlagSet("staff add", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var c conn
	c.flags(fs, env)
	role := fs.String("role", "", fmt.Sprintf("one of %v", auth.StaffRoles()))
	scope := fs.String("scope", "", "region code the account acts in (GB/T 2260 prefix)")
	label := fs.String("label", "", "a label for the account, e.g. 东门保安 3号 (no personal data)")
	org := fs.String("org", "", "the organisation the account acts for (hospital_reporter, hospital_reviewer: an approved hospital's id); the scope defaults to its region")
	if err := c.parse(fs, args[1:]); err != nil {
		return err
	}
	lc, err := c.openLedger(ctx)
	if err != nil {
		return err
	}
	defer lc.Close()
	// The pass state folds every event, sealed ones too: it takes the keys.
	reg, err := c.sealedRegistry(ctx, lc.js)
	if err != nil {
		return err
	}
	state := accounts.NewState()
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go ledger.Follow(fctx, lc.js, "LEDGER", reg, state)
	svc := &accounts.Service{Store: lc.led.Store, Reg: reg, State: state}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if *org != "" {
		// The organisation is checked against the state: let it see the
		// whole ledger first.
		size, err := lc.led.Store.Size(actx)
		if err != nil {
			return err
		}
		if err := state.WaitFor(actx, size); err != nil {
			return err
		}
	}
	ns, err := svc.AddStaff(actx, auth.Principal{Subject: "ops", Role: auth.System}, accounts.StaffInput{Role: *role, Scope: events.Region(*scope), Label: *label, Org: *org})
	if err != nil {
		return err
	}
	where := "region " + *scope
	if *org != "" {
		where = "organisation " + *org
	}
	fmt.Fprintf(env.stderr, "created %s account %s for %s; give its holder this one-time invite code:\n", *role, ns.ID, where)
	fmt.Fprintln(env.stdout, ns.InviteCode)
	return nil
}
