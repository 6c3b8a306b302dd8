// Package consent says which WeChat subscribe messages an account holder
// agreed to receive, from the answers of wx.requestSubscribeMessage.
//
// WeChat's subscribe messages are one-time by default: each "accept" of a
// template allows one message of it, and WeChat refuses (errcode 43101) a
// message the user did not accept. So a grant counts the messages still
// allowed per template; a send uses one; a refusal ("reject") withdraws what
// earlier acceptances allowed, because the user's latest word is the one to
// respect. Grants are personal data about an account: they are kept beside
// the account's openid, outside the ledger, and erased with it.
//
// The functions here are pure; the store that keeps grants per account is
// the notifier's (backend/app).
package consent

import (
	"sort"
	"time"

	"github.com/onebook/onebook/events"
)

// Answers of wx.requestSubscribeMessage for one template.
const (
	Accept = "accept"
	Reject = "reject"
	Ban    = "ban"    // WeChat banned the template
	Filter = "filter" // WeChat filtered the template (duplicate title)
)

// MaxLeft bounds the messages that acceptances may accumulate for one
// template: a phone cannot pile up an unbounded count.
const MaxLeft = 100

// Grant is what an account holder allowed for one template.
type Grant struct {
	Answer string    `json:"answer"` // the last answer
	Left   int       `json:"left"`   // messages that may still be sent
	At     time.Time `json:"at"`     // when the last answer was recorded
}

// Grants are an account holder's grants by template id.
type Grants map[string]Grant

// View is one kind of notice as the account holder sees it.
type View struct {
	Kind     string    `json:"kind"`
	Template string    `json:"template"`
	Answer   string    `json:"answer,omitempty"` // "" never asked
	Left     int       `json:"left"`
	At       time.Time `json:"at,omitzero"`
}

// Record applies the answers of one wx.requestSubscribeMessage call
// (template id → answer) to g and returns the new grants; g is not
// changed. Only templates onebook sends (the values of templates, notice
// kind → template id) are recorded; anything else is refused, naming the
// field.
func Record(g Grants, templates map[string]string, answers map[string]string, at time.Time) (Grants, error) {
	if len(answers) == 0 {
		return nil, events.Invalid("answers", "no answer to record")
	}
	known := map[string]bool{}
	for _, t := range templates {
		if t != "" {
			known[t] = true
		}
	}
	out := make(Grants, len(g)+len(answers))
	for t, x := range g {
		out[t] = x
	}
	for t, a := range answers {
		if !known[t] {
			return nil, events.Invalid("answers", "%q is not a template onebook sends", t)
		}
		x := out[t]
		switch a {
		case Accept:
			x.Left = min(x.Left+1, MaxLeft)
		case Reject, Ban, Filter:
			x.Left = 0
		default:
			return nil, events.Invalid("answers", "answer %q for %s is not one of accept, reject, ban, filter", a, t)
		}
		x.Answer, x.At = a, at.UTC()
		out[t] = x
	}
	return out, nil
}

// Take reports whether one message of template may be sent, and returns
// the grants with that message counted.
func Take(g Grants, template string) (Grants, bool) {
	x, ok := g[template]
	if !ok || x.Answer != Accept || x.Left <= 0 {
		return g, false
	}
	out := make(Grants, len(g))
	for t, y := range g {
		out[t] = y
	}
	x.Left--
	out[template] = x
	return out, true
}

// Give returns one message of template, taken for a send that did not
// reach the user (WeChat down): it was not used.
func Give(g Grants, template string) Grants {
	x, ok := g[template]
	if !ok || x.Answer != Accept {
		return g
	}
	out := make(Grants, len(g))
	for t, y := range g {
		out[t] = y
	}
	x.Left = min(x.Left+1, MaxLeft)
	out[template] = x
	return out
}

// Views lists g by notice kind, sorted, one per configured kind.
func Views(g Grants, templates map[string]string) []View {
	out := []View{}
	for kind, t := range templates {
		if t == "" {
			continue
		}
		x := g[t]
		out = append(out, View{Kind: kind, Template: t, Answer: x.Answer, Left: x.Left, At: x.At})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}
