package provincelogs

import (
	"context"
	"fmt"
	"sort"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/nationevents"
	"github.com/onebook/onebook/events/seal"
)

// Log is a log as its public tlog-tiles surface shows it
// (tlogclient.Client).
type Log interface {
	Source
	ProveInclusion(ctx context.Context, index, size uint64) (tlog.Hash, tlog.RecordProof, error)
	Bundle(ctx context.Context, n, size uint64) ([][]byte, error)
	Entry(ctx context.Context, index, size uint64) ([]byte, error)
}

// Audited is a log to audit and the verifier key of its checkpoints, from
// the operator, never from the log.
type Audited struct {
	Log Log
	Key string
}

// Recorded is one province checkpoint as the national log holds it.
type Recorded struct {
	Index      uint64 // leaf index of its event in the national log
	Checkpoint seal.Checkpoint
	Previous   uint64
	Proof      tlog.TreeProof
	Note       string
}

// ProvinceReport is what the audit found of one province log.
type ProvinceReport struct {
	Code     events.Region `json:"province"`
	Recorded int           `json:"recorded"`      // checkpoints in the national log
	Last     uint64        `json:"last_recorded"` // size of the newest
	Served   uint64        `json:"served"`        // size of the checkpoint the province serves
	Problems []string      `json:"problems,omitempty"`

	records []Recorded
}

// Report is the outcome of Audit.
type Report struct {
	National  seal.Checkpoint  `json:"-"`
	Size      uint64           `json:"national_size"`
	Root      string           `json:"national_root"`
	Provinces []ProvinceReport `json:"provinces"`
	Problems  []string         `json:"problems,omitempty"` // of the national log itself, and forks
}

// OK reports whether nothing is wrong.
func (r Report) OK() bool {
	ok := len(r.Problems) == 0
	for _, p := range r.Provinces {
		ok = ok && len(p.Problems) == 0
	}
	return ok
}

// Audit checks the national log of logs from the public surfaces: the
// national checkpoint's signature, that the national entries read are the
// ones it commits to (the root recomputed from every entry), every fork the
// nation recorded (each is a failure), and for each province with a key
// (from provinces) that every recorded checkpoint is signed with its key and
// consistent with the one recorded before (the proof the recorder checked,
// carried in the event), and that the checkpoint the province serves now is
// consistent with the last it gave the nation (a proof from the tiles it
// serves). Consistency being transitive, the recorded chain and the last
// link then show that every checkpoint the nation recorded is a prefix of
// what the province's residents are shown. A province recorded without a
// key, or with a key but never recorded, is a problem too.
func Audit(ctx context.Context, national Audited, provinces map[events.Region]Audited) (Report, error) {
	var rep Report
	natCP, err := open(ctx, national)
	if err != nil {
		return rep, fmt.Errorf("national checkpoint: %w", err)
	}
	rep.National, rep.Size, rep.Root = natCP, natCP.Size, b64(natCP.Hash)
	byCode := map[events.Region]*ProvinceReport{}
	get := func(code events.Region) *ProvinceReport {
		if byCode[code] == nil {
			byCode[code] = &ProvinceReport{Code: code}
		}
		return byCode[code]
	}
	root, err := readNational(ctx, national.Log, natCP.Size, func(index uint64, e events.Event, p events.Payload) {
		switch p := p.(type) {
		case nationevents.Checkpoint:
			if p.Province != string(e.Region) || e.Aggregate.ID != p.Province {
				rep.Problems = append(rep.Problems, fmt.Sprintf("national entry %d records a checkpoint of province %s under region %s", index, p.Province, e.Region))
				return
			}
			pr := get(e.Region)
			cp, _ := nationevents.NoteCheckpoint(p.Note, "note") // validated on decode
			proof, _ := nationevents.DecodeProof(p.Proof, "proof")
			pr.records = append(pr.records, Recorded{Index: index, Checkpoint: cp, Previous: p.Previous, Proof: proof, Note: p.Note})
		case nationevents.Fork:
			get(e.Region)
			rep.Problems = append(rep.Problems, fmt.Sprintf("province %s forked (national entry %d): %s", e.Region, index, p.Reason))
		}
	})
	if err != nil {
		return rep, err
	}
	if root != natCP.Hash {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the national entries served hash to %s, not to the root %s of the national checkpoint", b64(root), rep.Root))
	}
	for code := range provinces {
		get(code)
	}
	codes := make([]events.Region, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
	for _, code := range codes {
		pr := byCode[code]
		a, ok := provinces[code]
		switch {
		case !ok:
			pr.Problems = append(pr.Problems, "no verifier key for this province: its recorded checkpoints cannot be checked")
		case len(pr.records) == 0:
			pr.Problems = append(pr.Problems, "the national log has recorded no checkpoint of this province")
		default:
			checkProvince(ctx, pr, a)
		}
		rep.Provinces = append(rep.Provinces, *pr)
	}
	return rep, nil
}

// open fetches a log's latest checkpoint and verifies its signature.
func open(ctx context.Context, a Audited) (seal.Checkpoint, error) {
	v, err := note.NewVerifier(a.Key)
	if err != nil {
		return seal.Checkpoint{}, fmt.Errorf("verifier key: %w", err)
	}
	msg, _, _, err := a.Log.Latest(ctx)
	if err != nil {
		return seal.Checkpoint{}, err
	}
	cp, _, err := seal.OpenCheckpoint(msg, note.VerifierList(v), v.Name())
	return cp, err
}

// readNational reads every entry of the national log up to size, calls fn
// with each log-of-logs event, and returns the RFC 6962 root of all the
// entries read, for the caller to compare with the checkpoint's.
func readNational(ctx context.Context, l Log, size uint64, fn func(uint64, events.Event, events.Payload)) (tlog.Hash, error) {
	reg := events.NewRegistry()
	nationevents.Register(reg)
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	rng := rf.NewEmptyRange(0)
	for n := uint64(0); n<<seal.TileHeight < size; n++ {
		entries, err := l.Bundle(ctx, n, size)
		if err != nil {
			return tlog.Hash{}, fmt.Errorf("national entry bundle %d: %w", n, err)
		}
		for i, raw := range entries {
			index := n<<seal.TileHeight + uint64(i)
			h := tlog.RecordHash(raw)
			if err := rng.Append(h[:], nil); err != nil {
				return tlog.Hash{}, err
			}
			e, err := events.Parse(raw)
			if err != nil {
				return tlog.Hash{}, fmt.Errorf("national entry %d: %w", index, err)
			}
			if e.Aggregate.Kind != nationevents.Kind {
				continue
			}
			p, err := reg.Decode(ctx, e)
			if err != nil {
				return tlog.Hash{}, fmt.Errorf("national entry %d: %w", index, err)
			}
			fn(index, e, p)
		}
	}
	if size == 0 {
		return tlog.Hash(rfc6962.DefaultHasher.EmptyRoot()), nil
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return tlog.Hash{}, err
	}
	return tlog.Hash(root), nil
}

// checkProvince checks one province's recorded chain and what it serves.
func checkProvince(ctx context.Context, pr *ProvinceReport, a Audited) {
	v, err := note.NewVerifier(a.Key)
	if err != nil {
		pr.Problems = append(pr.Problems, fmt.Sprintf("verifier key: %v", err))
		return
	}
	var prev seal.Checkpoint
	for i, r := range pr.records {
		if _, _, err := seal.OpenCheckpoint([]byte(r.Note), note.VerifierList(v), v.Name()); err != nil {
			pr.Problems = append(pr.Problems, fmt.Sprintf("recorded checkpoint of size %d (national entry %d): %v", r.Checkpoint.Size, r.Index, err))
		}
		if i > 0 && r.Previous != prev.Size || i == 0 && r.Previous != 0 {
			pr.Problems = append(pr.Problems, fmt.Sprintf("recorded checkpoint of size %d (national entry %d) follows size %d, but the national log's one before is of size %d",
				r.Checkpoint.Size, r.Index, r.Previous, prev.Size))
		} else if i > 0 {
			if err := seal.VerifyConsistency(prev, r.Checkpoint, r.Proof); err != nil {
				pr.Problems = append(pr.Problems, fmt.Sprintf("recorded checkpoints of size %d and %d (national entry %d) are not consistent: %v",
					prev.Size, r.Checkpoint.Size, r.Index, err))
			}
		}
		prev = r.Checkpoint
	}
	pr.Recorded, pr.Last = len(pr.records), prev.Size
	served, err := open(ctx, a)
	if err != nil {
		pr.Problems = append(pr.Problems, fmt.Sprintf("the checkpoint it serves: %v", err))
		return
	}
	pr.Served = served.Size
	if p := servedProblem(ctx, a.Log, pr.records[len(pr.records)-1], served); p != "" {
		pr.Problems = append(pr.Problems, p)
	}
}

// servedProblem checks that served, the checkpoint a province shows its
// residents, extends last, the newest it gave the nation, by a consistency
// proof made from the tiles it serves; it says what is wrong, or "".
func servedProblem(ctx context.Context, l Log, last Recorded, served seal.Checkpoint) string {
	fork := fmt.Sprintf("FORK: the province serves its residents a checkpoint of size %d (root %s) that is not consistent with the checkpoint of size %d (root %s) it gave the nation (national entry %d)",
		served.Size, b64(served.Hash), last.Checkpoint.Size, b64(last.Checkpoint.Hash), last.Index)
	if served.Size < last.Checkpoint.Size {
		return fmt.Sprintf("the province serves a checkpoint of size %d, older than the one of size %d it gave the nation (national entry %d): rolled back or forked",
			served.Size, last.Checkpoint.Size, last.Index)
	}
	proof, err := l.ProveConsistency(ctx, last.Checkpoint.Size, served.Size)
	if err != nil {
		return fork + ": its tiles give no proof: " + err.Error()
	}
	if err := seal.VerifyConsistency(last.Checkpoint, served, proof); err != nil {
		return fork + ": " + err.Error()
	}
	return ""
}
