// Package auth says who is asking and what they may do: roles, region
// scopes, the signed session tokens the mini-program and dashboards carry,
// and the policy table every handler consults.
package auth

import (
	"fmt"
	"slices"

	"github.com/onebook/onebook/events"
)

// Role is what an account is for. Residents sign in with WeChat; every other
// role is a staff account created by an admin with a region scope.
type Role string

const (
	Resident         Role = "resident"
	PropertyManager  Role = "property_manager"  // runs a community: gates, visitors, its views
	GateOperator     Role = "gate_operator"     // scans passes at a gate
	HospitalReporter Role = "hospital_reporter" // files infectious-disease report cards
	HospitalReviewer Role = "hospital_reviewer" // reviews its hospital's cards (first level of the chain)
	CDCReviewer      Role = "cdc_reviewer"      // reviews report cards, handles alerts
	GovAnalyst       Role = "gov_analyst"       // government views, tracing, exports
	OrgMember        Role = "org_member"        // a certified organisation's staff (donations)
	DonationReviewer Role = "donation_reviewer" // reviews and re-reviews donations' use
	Auditor          Role = "auditor"           // reads the data-use audit
	Admin            Role = "admin"             // creates staff accounts
	System           Role = "system"            // onebook itself (sealer, projectors, demo)
)

// StaffRoles are the roles an admin can give a staff account.
func StaffRoles() []Role {
	return []Role{PropertyManager, GateOperator, HospitalReporter, HospitalReviewer, CDCReviewer, GovAnalyst, OrgMember, DonationReviewer, Auditor, Admin}
}

// ParseRole accepts a staff role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(StaffRoles(), r) {
		return r, nil
	}
	return "", events.Invalid("role", "unknown staff role %q (one of %v)", s, StaffRoles())
}

// Principal is an authenticated caller.
type Principal struct {
	Subject string        // resident id or staff id
	Role    Role          //
	Scope   events.Region // staff: the region they act in; residents: their community, "" before registering
	OpenID  string        // WeChat openid, if signed in through WeChat
	Org     string        // staff: the organisation they act for (a hospital), if any
}

// Actor is how the principal appears in events.
func (p Principal) Actor() events.Actor { return events.Actor{Role: string(p.Role), ID: p.Subject} }

// PublicActor is how the principal appears in clear on events that are not
// about its own account: staff by their account id (an official acting),
// residents by their role only. A resident's account id in clear on gate,
// visit or donation events would link them across the public ledger; the
// event's sealed fields name them where the service needs it.
func (p Principal) PublicActor() events.Actor {
	if p.Role == Resident {
		return events.Actor{Role: string(p.Role)}
	}
	return p.Actor()
}

// Action is something a principal may be allowed to do.
type Action string

const (
	ActRegister      Action = "resident.register" // a resident registers or updates their household
	ActDeclare       Action = "health.declare"    // a resident declares health
	ActOwnPass       Action = "pass.own"          // a resident reads or refreshes their own pass
	ActSelfCheckIn   Action = "pass.self_checkin" // a resident scans a gate's code
	ActScan          Action = "pass.scan"         // scan a pass at a gate of the region
	ActGateManage    Action = "gate.manage"       // register gates, print gate codes
	ActVisitorDecide Action = "visitor.decide"    // approve or refuse a visitor
	ActCommunityView Action = "view.community"    // who is inside, gate counts, denied scans
	ActTrace         Action = "trace"             // who passed a gate / where was a person
	ActTraceCase     Action = "trace.case"        // where was a case's patient (contact tracing)
	ActTransfer      Action = "person.transfer"   // confirm in person a move into one's community
	ActFlows         Action = "view.flows"        // flows between regions
	ActExport        Action = "export"            // verifiable export bundles of government views
	ActStaffAdmin    Action = "staff.admin"       // create staff accounts
	ActAudit         Action = "audit.read"        // who read which data
	ActOrgAdmin      Action = "org.admin"         // register and approve organisations

	ActCaseFile    Action = "case.file"    // file or correct a report card for one's hospital
	ActCaseReview  Action = "case.review"  // review report cards at one's level
	ActCaseRead    Action = "case.read"    // read report cards (row-level case data)
	ActCaseCounts  Action = "case.counts"  // daily counts, cross-region comparison (no row-level data)
	ActAlertView   Action = "alert.view"   // list and read alerts
	ActAlertHandle Action = "alert.handle" // acknowledge, investigate, close alerts
	ActRuleManage  Action = "rule.manage"  // publish early-warning rules (national scope)

	ActNeedManage        Action = "need.manage"        // publish, update, close a hospital's needs
	ActDonate            Action = "donation.pledge"    // pledge a donation (as an organisation or as a person)
	ActHandover          Action = "donation.handover"  // dispatch or confirm a hop, record consumption
	ActDonationReview    Action = "donation.review"    // review or re-review a donation's use
	ActDonationSupervise Action = "donation.supervise" // query donations by organisation, item, region, period
)

// allowed is the policy: which roles may take each action. It is a function
// rather than a package variable so that nothing can change it at run time.
func allowed(a Action) []Role {
	switch a {
	case ActRegister, ActDeclare, ActOwnPass, ActSelfCheckIn:
		return []Role{Resident}
	case ActScan:
		return []Role{GateOperator, PropertyManager}
	case ActGateManage, ActVisitorDecide, ActTransfer:
		return []Role{PropertyManager}
	case ActCommunityView:
		return []Role{PropertyManager, GovAnalyst}
	case ActTrace, ActFlows:
		return []Role{GovAnalyst}
	case ActExport:
		return []Role{GovAnalyst, CDCReviewer, DonationReviewer}
	case ActStaffAdmin, ActOrgAdmin:
		return []Role{Admin}
	case ActCaseFile:
		return []Role{HospitalReporter}
	case ActCaseReview:
		return []Role{HospitalReviewer, CDCReviewer}
	case ActCaseRead:
		return []Role{HospitalReporter, HospitalReviewer, CDCReviewer}
	case ActTraceCase:
		return []Role{CDCReviewer}
	case ActCaseCounts, ActAlertView:
		return []Role{CDCReviewer, GovAnalyst}
	case ActAlertHandle, ActRuleManage:
		return []Role{CDCReviewer}
	case ActNeedManage, ActHandover:
		return []Role{OrgMember}
	case ActDonate:
		return []Role{OrgMember, Resident}
	case ActDonationReview:
		return []Role{DonationReviewer}
	case ActDonationSupervise:
		return []Role{DonationReviewer, GovAnalyst}
	case ActAudit:
		return []Role{Auditor}
	}
	return nil
}

// Roles lists the roles allowed to take a, for documentation and tests.
func Roles(a Action) []Role { return allowed(a) }

// Authorize reports whether p may take action a on data of region. Staff
// must hold an allowed role and a scope that covers region (a prefix check
// on GB/T 2260 codes); residents act only within their own community.
func Authorize(p Principal, a Action, region events.Region) error {
	if p.Subject == "" {
		return &events.Error{Code: events.CodeUnauthorized, Message: "sign in first"}
	}
	if !slices.Contains(allowed(a), p.Role) {
		return &events.Error{Code: events.CodeForbidden, Message: fmt.Sprintf("role %s may not %s", p.Role, a)}
	}
	if region == "" {
		return nil // the action is not about one region (e.g. a resident's first registration)
	}
	if !p.Scope.Covers(region) {
		return &events.Error{Code: events.CodeForbidden, Message: fmt.Sprintf("region %s is outside your scope %s", region, p.Scope)}
	}
	return nil
}
