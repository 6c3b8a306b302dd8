// Package outbox carries a province's aggregate events to the nation, and
// nothing else.
//
// A province cell appends its aggregates (events/aggregates) to its own
// LEDGER, so that its Merkle log commits to what it told the nation. In
// the province's NATS account a stream OUTBOX sources that LEDGER, filtered
// to the aggregate subjects and renamed by a subject transform:
//
//	ledger.31.province_day.<id>   →   aggregate.31.province_day.<id>
//
// In the NATION account the national LEDGER sources every province's OUTBOX
// across accounts (an External source whose API prefix is $JS.P31.API), so
// each aggregate event arrives there with its canonical bytes unchanged
// and is sealed into the national log.
//
// What the province account exports, to the NATION account alone, is only
// what such a source needs (Grants): creating (and deleting) a consumer on
// OUTBOX, the subject the consumer delivers on, and flow control of OUTBOX
// consumers. No subject of the LEDGER's API is exported, so the nation
// cannot read a raw event: a consumer create on LEDGER sent under the
// province's prefix has no importer and no responder
// (outbox_test.TestNationCannotReadProvinceLedger).
package outbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/aggregates"
)

// Stream is the name of the outbox stream in a province's account.
const Stream = "OUTBOX"

// Ledger is the name of the ledger stream in every cell's account.
const Ledger = "LEDGER"

// SubjectRoot is the first token of an aggregate's subject in OUTBOX and
// in the national LEDGER.
const SubjectRoot = "aggregate"

// Subjects is the filter of every sourced aggregate subject, for the
// national cell's readers.
const Subjects = SubjectRoot + ".>"

// Account is the NATS account of province's cell, "P31" (as
// partition.Account names it; repeated here so that events/ does not
// import the deployment's naming).
func Account(province events.Region) string { return "P" + string(province) }

// NationAccount is the NATS account of the national cell.
const NationAccount = "NATION"

// APIPrefix is the prefix under which the national account reaches the
// province's JetStream API: "$JS.P31.API".
func APIPrefix(province events.Region) string { return "$JS." + Account(province) + ".API" }

// DeliverPrefix is the subject prefix on which OUTBOX consumers deliver to
// the nation: "NATION.P31.SYNC".
func DeliverPrefix(province events.Region) string {
	return NationAccount + "." + Account(province) + ".SYNC"
}

// StreamConfig is the configuration of the OUTBOX stream of province:
// it sources the account's LEDGER, taking the aggregate subjects of the
// province only and renaming them to aggregate.<province>.<kind>.<id>.
// Like the ledger, it refuses deletes and purges and never drops an event
// to make room.
func StreamConfig(province events.Region, replicas int) jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	from := events.SubjectPrefix + "." + string(province) + "." + aggregates.Kind + ".*"
	to := SubjectRoot + "." + string(province) + "." + aggregates.Kind + ".{{wildcard(1)}}"
	return jetstream.StreamConfig{
		Name:        Stream,
		Description: "onebook outbox: the province's aggregate events, for the nation",
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxMsgSize:  events.MaxEventSize,
		Discard:     jetstream.DiscardNew,
		Replicas:    replicas,
		DenyDelete:  true,
		DenyPurge:   true,
		Sources: []*jetstream.StreamSource{{
			Name:              Ledger,
			SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: from, Destination: to}},
		}},
	}
}

// Open creates province's OUTBOX stream, or brings its configuration up to
// date.
func Open(ctx context.Context, js jetstream.JetStream, province events.Region, replicas int) (jetstream.Stream, error) {
	st, err := js.CreateOrUpdateStream(ctx, StreamConfig(province, replicas))
	if err != nil {
		return nil, fmt.Errorf("outbox of province %s: %w", province, err)
	}
	return st, nil
}

// Sources are the sources of the national LEDGER: every province's OUTBOX,
// across accounts. The national cell gives them to ledger.Config.Sources.
func Sources(provinces []events.Region) []*jetstream.StreamSource {
	var out []*jetstream.StreamSource // nil for none: the single ledger's configuration stays as it was
	for _, p := range provinces {
		out = append(out, &jetstream.StreamSource{
			Name:     Stream,
			External: &jetstream.ExternalStream{APIPrefix: APIPrefix(p), DeliverPrefix: DeliverPrefix(p)},
		})
	}
	return out
}

// Sourced is the inverse of Sources: the provinces whose OUTBOX the
// sources srcs (a national LEDGER's configuration) take. An operator's
// tool opening the national ledger gives them back to Sources, so that
// bringing the stream's configuration up to date keeps its sources.
func Sourced(srcs []*jetstream.StreamSource) []events.Region {
	var out []events.Region
	for _, s := range srcs {
		if s == nil || s.Name != Stream || s.External == nil {
			continue
		}
		code, _ := strings.CutSuffix(strings.TrimPrefix(s.External.APIPrefix, "$JS.P"), ".API")
		if p := events.Region(code); len(p) == 2 && events.KnownProvince(p) && APIPrefix(p) == s.External.APIPrefix {
			out = append(out, p)
		}
	}
	return out
}

// Grant is one subject a province's account exports to the NATION account
// alone, and the nation imports: a service (requests) or a stream
// (messages). To is the subject the nation uses for a service.
type Grant struct {
	Service, Stream string // the subject in the province's account
	To              string // for a service: the subject in the nation's account
}

// Grants are the exports of province's account to the nation, which are
// also the nation's imports from it: everything a source of OUTBOX needs,
// and nothing of LEDGER.
//
//   - consumer create on OUTBOX, in the short form
//     ($JS.API.CONSUMER.CREATE.OUTBOX) and the extended one (with a
//     consumer name and filter), and consumer delete, which the source
//     sends when it stops or restarts;
//   - the deliver subject (DeliverPrefix), on which the consumer sends
//     the events;
//   - flow control of OUTBOX's consumers, in both subject formats of
//     nats-server ($JS.FC.<stream>.… and $JS.FC.<domain>.<account>.<stream>.…):
//     without it a source stalls once its first burst asks for flow
//     control (nats-server issue 8630).
func Grants(province events.Region) []Grant {
	api := func(s string) Grant {
		return Grant{Service: "$JS.API." + s, To: APIPrefix(province) + "." + s}
	}
	return []Grant{
		api("CONSUMER.CREATE." + Stream),
		api("CONSUMER.CREATE." + Stream + ".>"),
		api("CONSUMER.DELETE." + Stream + ".>"),
		{Stream: DeliverPrefix(province) + ".>"},
		{Service: "$JS.FC." + Stream + ".>"},
		{Service: "$JS.FC.*.*." + Stream + ".>"},
	}
}

// Province returns the province an OUTBOX or national LEDGER subject
// aggregate.<province>.… names, "" for any other subject.
func Province(subject string) events.Region {
	root, rest, ok := strings.Cut(subject, ".")
	if !ok || root != SubjectRoot {
		return ""
	}
	p, _, _ := strings.Cut(rest, ".")
	return events.Region(p)
}
