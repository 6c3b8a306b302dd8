// Package partition names the cells of a deployment with a ledger per
// province (ONEBOOK_PARTITIONS) and holds the rule that routes an event to
// its cell.
//
// A cell is one ledger: one stream, one Merkle log with its own origin and
// signing key, one sealer, in a NATS account of its own. A province cell
// is named by its 2-digit GB/T 2260 code (events.Region "31"); the national
// cell, which holds only what the provinces publish to the nation
// (aggregates and their signed checkpoints), by events.National ("CN").
// Every name a cell has (account, data folder, database, URL prefix,
// origin) is derived here, in one place, from that code.
package partition

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onebook/onebook/events"
)

// Nation is the code of the national cell.
const Nation = events.National

// Parse reads ONEBOOK_PARTITIONS: comma-separated 2-digit province codes
// of GB/T 2260. It returns them sorted; "" (the default) returns none,
// which means the single ledger of today.
func Parse(s string) ([]events.Region, error) {
	var out []events.Region
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r := events.Region(f)
		if len(f) != 2 || !events.KnownProvince(r) {
			return nil, fmt.Errorf("%q is not a 2-digit province code of GB/T 2260 (e.g. 11 Beijing, 31 Shanghai, 44 Guangdong)", f)
		}
		if slices.Contains(out, r) {
			return nil, fmt.Errorf("province %s is listed twice", f)
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return out, nil
}

// Name is the cell's short name: "p31", or "nation". It names the cell's
// data folder, its database suffix and its NATS credentials file.
func Name(cell events.Region) string {
	if cell == Nation {
		return "nation"
	}
	return "p" + string(cell)
}

// Account is the NATS account the cell's streams and buckets live in:
// "P31", or "NATION". Inside it every name is as in a single-ledger
// deployment (stream LEDGER, bucket leases, ...), and no other cell can
// see it.
func Account(cell events.Region) string { return strings.ToUpper(Name(cell)) }

// Prefix is where the cell's HTTP API is mounted: "/p/31", or "/national".
// Its C2SP tlog-tiles are Prefix+"/checkpoint" and Prefix+"/tile/...".
func Prefix(cell events.Region) string {
	if cell == Nation {
		return "/national"
	}
	return "/p/" + string(cell)
}

// Origin is the cell's checkpoint origin: the deployment's origin with the
// cell's prefix, so that, as C2SP tlog-checkpoint advises, it is the
// log's public URL prefix without the scheme.
func Origin(base string, cell events.Region) string {
	return strings.TrimSuffix(base, "/") + Prefix(cell)
}

// Province returns the routing rule of the cell of province p: an event
// whose region lies in another province is refused, naming the field
// region. An event of region events.National (an early-warning rule, a
// resident's sign-out everywhere, an individual's pledge: decisions about
// no place) stays in the cell whose services made it; it carries no raw
// data of another province.
func Province(p events.Region) func(events.Event) error {
	return func(e events.Event) error {
		if e.Region == events.National || e.Region.Province() == p {
			return nil
		}
		return events.Invalid("region", "region %s is in province %s; this is the ledger of province %s (send it to %s)",
			e.Region, e.Region.Province(), p, Prefix(e.Region.Province()))
	}
}

// National returns the rule of the national cell: it holds no raw event,
// only the event types listed (what the provinces publish to the nation);
// any other is refused, naming the field type.
func National(types []string) func(events.Event) error {
	return func(e events.Event) error {
		if slices.Contains(types, e.Type) {
			return nil
		}
		return events.Invalid("type", "the national ledger holds no %s events: raw events stay in their province's ledger (%s)",
			e.Type, Prefix(e.Region.Province()))
	}
}
