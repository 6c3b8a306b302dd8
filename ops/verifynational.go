package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/partition"
	"github.com/onebook/onebook/events/provincelogs"
	"github.com/onebook/onebook/events/seal/tlogclient"
)

// nationalFlags are the flags of ops verify's national mode, which
// audits the national log of logs from the public tlog-tiles surfaces
// alone: no NATS, no MongoDB, only URLs and verifier keys.
type nationalFlags struct {
	url         string
	key         string
	partitions  string
	provinceKey listFlag
	events      listFlag
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func (n *nationalFlags) flags(fs *flag.FlagSet, env *environ) {
	fs.StringVar(&n.url, "national", "", "national mode: audit the national log of province logs served under this URL (its /national and /p/<code> tlog-tiles), not the ledger over NATS")
	fs.StringVar(&n.key, "national-key", "", "national mode: the national log's verifier key, or a file holding it; default DATA/nation/seal.key.pub")
	fs.StringVar(&n.partitions, "partitions", env.getenv("ONEBOOK_PARTITIONS"), "national mode: the provinces to audit ($ONEBOOK_PARTITIONS); each key defaults to DATA/p<code>/seal.key.pub")
	fs.Var(&n.provinceKey, "province-key", "national mode: CODE=KEY or CODE=FILE, a province log's verifier key (repeat for more)")
	fs.Var(&n.events, "event", "national mode: CODE:INDEX, a province event whose chain to the national checkpoint to check and print (repeat for more)")
}

// keyOrFile returns k if it is a verifier key, else the key in file k.
func keyOrFile(k string) (string, error) {
	if _, err := note.NewVerifier(k); err == nil {
		return k, nil
	}
	b, err := os.ReadFile(k)
	if err != nil {
		return "", fmt.Errorf("verifier key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// nationalKeys gathers the verifier keys from the flags and the data
// folder's defaults: they come from the operator, never from the logs.
func (n *nationalFlags) nationalKeys(data string) (string, map[events.Region]string, error) {
	if n.key == "" {
		n.key = filepath.Join(data, partition.Name(partition.Nation), "seal.key.pub")
	}
	nat, err := keyOrFile(n.key)
	if err != nil {
		return "", nil, fmt.Errorf("national %w", err)
	}
	codes, err := partition.Parse(n.partitions)
	if err != nil {
		return "", nil, fmt.Errorf("--partitions: %w", err)
	}
	keys := map[events.Region]string{}
	for _, c := range codes {
		keys[c] = filepath.Join(data, partition.Name(c), "seal.key.pub")
	}
	for _, f := range n.provinceKey {
		c, k, ok := strings.Cut(f, "=")
		if !ok || len(c) != 2 || !events.KnownProvince(events.Region(c)) {
			return "", nil, fmt.Errorf("--province-key %q: want CODE=KEY or CODE=FILE with a 2-digit province code", f)
		}
		keys[events.Region(c)] = k
	}
	for c, k := range keys {
		if keys[c], err = keyOrFile(k); err != nil {
			return "", nil, fmt.Errorf("province %s %w", c, err)
		}
	}
	return nat, keys, nil
}

// NationalReport is what ops verify --national found; --json prints it.
type NationalReport struct {
	OK     bool                       `json:"ok"`
	Audit  provincelogs.Report        `json:"audit"`
	Chains []provincelogs.ChainReport `json:"chains,omitempty"`
	Broken []string                   `json:"broken_chains,omitempty"`
}

// runVerifyNational audits the national log of logs (provincelogs.Audit)
// and checks the chain of each --event; exit status 0 only when all holds.
func runVerifyNational(ctx context.Context, env *environ, n *nationalFlags, data string, asJSON bool) error {
	natKey, keys, err := n.nationalKeys(data)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(n.url, "/")
	national := tlogclient.New(base+partition.Prefix(partition.Nation), nil)
	provinces := map[events.Region]provincelogs.Audited{}
	for c, k := range keys {
		provinces[c] = provincelogs.Audited{Log: tlogclient.New(base+partition.Prefix(c), nil), Key: k}
	}
	var rep NationalReport
	if rep.Audit, err = provincelogs.Audit(ctx, provincelogs.Audited{Log: national, Key: natKey}, provinces); err != nil {
		return err
	}
	for _, ev := range n.events {
		c, idx, ok := strings.Cut(ev, ":")
		index, err := strconv.ParseUint(idx, 10, 63)
		a, known := provinces[events.Region(c)]
		if !ok || err != nil || !known {
			return fmt.Errorf("--event %q: want CODE:INDEX of a province with a verifier key", ev)
		}
		ch, err := provincelogs.Chain(ctx, rep.Audit, national, a.Log, events.Region(c), index)
		if err != nil {
			rep.Broken = append(rep.Broken, fmt.Sprintf("event %d of province %s: %v", index, c, err))
			continue
		}
		rep.Chains = append(rep.Chains, ch)
	}
	rep.OK = rep.Audit.OK() && len(rep.Broken) == 0
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printNational(env, rep)
	}
	if !rep.OK {
		return failed{"the national log of logs does not verify"}
	}
	return nil
}

func printNational(env *environ, r NationalReport) {
	w := env.stdout
	mark := func(ok bool) string {
		if ok {
			return "ok  "
		}
		return "FAIL"
	}
	a := r.Audit
	fmt.Fprintf(w, "%s national log: checkpoint of size %d, root %s, signed; its entries hash to it\n", mark(len(a.Problems) == 0), a.Size, a.Root)
	for _, p := range a.Problems {
		fmt.Fprintf(w, "       %s\n", p)
	}
	for _, p := range a.Provinces {
		fmt.Fprintf(w, "%s province %s: %d checkpoints recorded (each signed, each consistent with the one before), the last of size %d; it serves size %d (must extend it)\n",
			mark(len(p.Problems) == 0), p.Code, p.Recorded, p.Last, p.Served)
		for _, q := range p.Problems {
			fmt.Fprintf(w, "       %s\n", q)
		}
	}
	for _, c := range r.Chains {
		fmt.Fprintf(w, "ok   chain to event %d of province %s (%s):\n", c.Index, c.Province, c.Event)
		for _, l := range c.Links {
			if l.Proof > 0 {
				fmt.Fprintf(w, "       %s (%d proof hashes)\n", l.What, l.Proof)
			} else {
				fmt.Fprintf(w, "       %s\n", l.What)
			}
		}
	}
	for _, b := range r.Broken {
		fmt.Fprintf(w, "FAIL chain to %s\n", b)
	}
}
