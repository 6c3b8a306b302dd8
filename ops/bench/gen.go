package bench

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
)

// generator builds realistic entry/exit pass events through the events
// registry: gate scans at the gates of a few dozen communities of one
// district, with one pass issued for every ten scans. Event i is the same
// in every run except for its id (a fresh UUIDv7) and its scan id, so sizes
// and subjects are reproducible.
type generator struct {
	reg   *events.Registry
	epoch time.Time
	// district is where the communities are (6 digits, GB/T 2260): the
	// partitions part gives each province's ledger events of its own.
	district events.Region
	// clear makes the events as a ledger recorded before sealing holds
	// them: every field in clear (the export part's baseline).
	clear bool
}

// payloadInClear replaces e's sealed payload by p in clear, if g.clear.
func (g *generator) payloadInClear(e events.Event, err error, p events.Payload) (events.Event, error) {
	if err != nil || !g.clear {
		return e, err
	}
	e.Payload, err = json.Marshal(p)
	return e, err
}

func newGenerator(reg *events.Registry) *generator {
	return &generator{reg: reg, epoch: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), district: district}
}

// in returns a copy of g whose communities are in district d.
func (g *generator) in(d events.Region) *generator {
	c := *g
	c.district = d
	return &c
}

const (
	district    = "110105" // 北京市朝阳区
	communities = 48
	gatesPer    = 3
)

func community(n uint64) events.Region { return communityIn(district, n) }

// communityIn is community n of district d.
func communityIn(d events.Region, n uint64) events.Region {
	return events.Region(fmt.Sprintf("%s%03d%03d", d, 1+n/12, 1+n%12))
}

// holder is a person token: a keyed hash (blind index), never personal data.
func holder(n uint64) string {
	h := sha256.Sum256(fmt.Appendf(nil, "bench-person-%d", n))
	return "h-" + hex.EncodeToString(h[:8])
}

func passID(n uint64) string { return fmt.Sprintf("P%09d", n) }

// mixed returns event i of the mixed workload: pass.issued when i%10 == 0,
// pass.scanned otherwise.
func (g *generator) mixed(i uint64) (events.Event, error) {
	if i%10 == 0 {
		return g.issued(i / 10)
	}
	return g.scanned(i)
}

// issued returns the pass.issued event of pass n (one aggregate per pass).
func (g *generator) issued(n uint64) (events.Event, error) {
	c := communityIn(g.district, n%communities)
	at := g.epoch.Add(time.Duration(n) * 7 * time.Second)
	p := passevents.Issued{
		Holder:    holder(n),
		HolderOf:  []string{passevents.HolderResident, passevents.HolderResident, passevents.HolderResident, passevents.HolderVisitor}[n%4],
		Community: c,
		NotBefore: at.Truncate(24 * time.Hour),
		NotAfter:  at.Truncate(24*time.Hour).AddDate(0, 0, 30),
	}
	e, err := g.reg.New(inMemory, passevents.TypeIssued, events.Meta{
		Aggregate: events.Aggregate{Kind: passevents.KindPass, ID: passID(n)},
		Region:    c,
		Actor:     events.Actor{Role: "property_manager", ID: fmt.Sprintf("pm-%s", c[6:])},
		Time:      at,
		SealTo:    holder(n),
	}, p)
	return g.payloadInClear(e, err, p)
}

// scanned returns the gate scan of event i: a pass of one of the issued
// passes scanned at a gate of its community, one in fifty denied.
func (g *generator) scanned(i uint64) (events.Event, error) {
	rng := rand.New(rand.NewPCG(i, 0x0b00c))
	n := rng.Uint64N(i/10 + 1) // a pass issued before this scan
	c := communityIn(g.district, n%communities)
	gate := fmt.Sprintf("g%s-%d", c[6:], 1+rng.IntN(gatesPer))
	p := passevents.Scanned{
		ScanID:    events.NewID(),
		Pass:      passID(n),
		Holder:    holder(n),
		Community: c,
		Direction: []string{passevents.In, passevents.Out}[rng.IntN(2)],
		Decision:  passevents.Allow,
	}
	if rng.IntN(50) == 0 {
		p.Decision, p.Reason = passevents.Deny, "health_status_red"
	}
	e, err := g.reg.New(inMemory, passevents.TypeScanned, events.Meta{
		Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: gate},
		Region:    c,
		Actor:     events.Actor{Role: "gate_operator", ID: fmt.Sprintf("op-%s-%d", c[6:], rng.IntN(4))},
		Time:      g.epoch.Add(time.Duration(i) * 700 * time.Millisecond),
		SealTo:    holder(n),
	}, p)
	return g.payloadInClear(e, err, p)
}

// rawSubject maps a ledger subject to the raw baseline stream's subject.
func rawSubject(ledgerSubject string) string {
	return "raw" + strings.TrimPrefix(ledgerSubject, events.SubjectPrefix)
}

// inMemory is the context the generators build events in: their registries
// seal with an in-memory keyring (benchKeyring), which never blocks, so
// there is nothing to cancel.
var inMemory = context.Background()

// benchKeyring returns the keyring benchmark registries seal with: every
// subject's key derived from one fixed secret, so that the processes of a
// benchmark (the export children) open what the filler sealed without a
// key store. It does what the vault does per event (one AES-GCM wrap of
// the data key, one of the subject reference) but its keys cannot be
// destroyed: for benchmarks only.
func benchKeyring() events.Keyring { return &derivedKeyring{ref: benchRef()} }

// derivedKeyring derives each subject's key from benchSecret and keeps its
// cipher, as the vault keeps unwrapped keys in its cache.
type derivedKeyring struct {
	ref  cipher.AEAD
	keys sync.Map // subject → cipher.AEAD
}

var benchSecret = []byte("onebook bench: not a secret")

func (k *derivedKeyring) key(subject string) cipher.AEAD {
	if a, ok := k.keys.Load(subject); ok {
		return a.(cipher.AEAD)
	}
	m := hmac.New(sha256.New, benchSecret)
	m.Write([]byte(subject))
	a, _ := events.NewAEAD(m.Sum(nil)) // a 32-byte key never fails
	k.keys.Store(subject, a)
	return a
}

func benchRef() cipher.AEAD {
	a, _ := events.NewAEAD(events.RefKey(benchSecret))
	return a
}

func (k *derivedKeyring) Wrap(_ context.Context, subject, eventID string, dataKey []byte) (events.Wrapped, error) {
	key, err := events.WrapKey(k.key(subject), subject, eventID, dataKey)
	if err != nil {
		return events.Wrapped{}, err
	}
	to, err := events.SealRef(k.ref, eventID, subject)
	return events.Wrapped{Key: key, To: to}, err
}

func (k *derivedKeyring) Unwrap(_ context.Context, eventID string, w events.Wrapped) ([]byte, error) {
	subject, err := events.OpenRef(k.ref, eventID, w.To)
	if err != nil {
		return nil, err
	}
	return events.UnwrapKey(k.key(subject), subject, eventID, w.Key)
}
