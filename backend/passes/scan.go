package passes

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/passevents"
	"github.com/onebook/onebook/events/residents"
)

// ScanInput is one scan posted by a scanner phone.
type ScanInput struct {
	ScanID    string    `json:"scan_id"` // client-generated, unique per phone; the same scan id counts once
	Token     string    `json:"token"`
	IDLast4   string    `json:"id_last4,omitempty"`
	Gate      string    `json:"gate"`
	Direction string    `json:"direction"`  // in | out
	ScannedAt time.Time `json:"scanned_at"` // when the phone scanned (kept for offline uploads)
}

// ScanResult is the answer for one scan.
type ScanResult struct {
	ScanID   string `json:"scan_id"`
	Decision string `json:"decision"`         // allow | deny | duplicate
	Reason   string `json:"reason,omitempty"` // why denied
	Seq      uint64 `json:"seq,omitempty"`    // ledger sequence of the scan event
	Status   string `json:"status,omitempty"` // holder's health status, if known
}

// Offline scans may be uploaded this late, and phones' clocks may run this
// far ahead.
const (
	MaxScanAge  = 7 * 24 * time.Hour
	MaxClockRun = 5 * time.Minute
	MaxBatch    = 500
)

var (
	scanIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	last4Pattern  = regexp.MustCompile(`^[0-9]{3}[0-9Xx]$`)
)

// validateScan checks the request fields (not the pass).
func (s *Service) validateScan(in ScanInput) error {
	switch {
	case !scanIDPattern.MatchString(in.ScanID):
		return events.Invalid("scan_id", "scan_id must be 1-64 of [A-Za-z0-9_-]")
	case in.Token == "" || len(in.Token) > 1024:
		return events.Invalid("token", "token is required (at most 1024 bytes)")
	case in.Gate == "":
		return events.Invalid("gate", "gate is required")
	case in.Direction != passevents.In && in.Direction != passevents.Out:
		return events.Invalid("direction", "direction must be %q or %q", passevents.In, passevents.Out)
	case in.IDLast4 != "" && !last4Pattern.MatchString(in.IDLast4):
		return events.Invalid("id_last4", "id_last4 must be the last 4 characters of the ID number")
	case in.ScannedAt.IsZero():
		return events.Invalid("scanned_at", "scanned_at is required")
	}
	now := s.Now.UTC()
	if in.ScannedAt.After(now.Add(MaxClockRun)) {
		return events.Invalid("scanned_at", "scanned_at %s is in the future", in.ScannedAt.UTC().Format(time.RFC3339))
	}
	if in.ScannedAt.Before(now.Add(-MaxScanAge)) {
		return events.Invalid("scanned_at", "scans older than %s cannot be uploaded", MaxScanAge)
	}
	return nil
}

// scanEventID derives the event id from gate and scan id, so a retried scan
// is deduplicated by the ledger itself.
// scanSubject is whose key seals a scan: its holder's, or for a token that
// names no known holder (forged, malformed) the gates' service key.
func scanSubject(ev passevents.Scanned) string {
	if ev.Holder != "" {
		return ev.Holder
	}
	return events.SubjectGates
}

func scanEventID(gate, scanID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("onebook:scan:"+gate+"/"+scanID)).String()
}

// Scan decides one scan at a gate and records it, allowed or denied. A scan
// id seen before is refused with CodeDuplicate and the original decision is
// not repeated.
func (s *Service) Scan(ctx context.Context, p auth.Principal, in ScanInput) (ScanResult, error) {
	d, r, err := s.decideScan(ctx, p, in)
	if err != nil {
		return r, err
	}
	rec, err := s.append(ctx, d.Type, d.Meta, d.Payload, d.Expect)
	if errors.Is(err, events.ErrDuplicate) {
		return ScanResult{ScanID: in.ScanID, Decision: "duplicate", Seq: rec.Seq}, duplicateScan(in.ScanID)
	}
	if err != nil {
		return ScanResult{}, err
	}
	r.Seq = rec.Seq
	return r, nil
}

// decideScan checks a scan and decides it: the event that records it and
// the answer, without its sequence. A scan id the state has seen is
// CodeDuplicate, with the answer "duplicate".
func (s *Service) decideScan(ctx context.Context, p auth.Principal, in ScanInput) (events.Draft, ScanResult, error) {
	if err := s.validateScan(in); err != nil {
		return events.Draft{}, ScanResult{}, err
	}
	if err := s.warm(); err != nil {
		return events.Draft{}, ScanResult{}, err // a pass the state has not read yet is no forgery
	}
	gate, ok := s.Gate(ctx, in.Gate)
	if !ok {
		return events.Draft{}, ScanResult{}, events.Invalid("gate", "unknown gate %q", in.Gate)
	}
	if err := auth.Authorize(p, auth.ActScan, gate.Community); err != nil {
		return events.Draft{}, ScanResult{}, err
	}
	dup := false
	s.State.read(func() { _, dup = s.State.scans[gate.ID+"/"+in.ScanID] })
	if dup {
		return events.Draft{}, ScanResult{ScanID: in.ScanID, Decision: "duplicate"}, duplicateScan(in.ScanID)
	}
	ev, status := s.decide(ctx, gate, in)
	meta := events.Meta{ID: scanEventID(gate.ID, in.ScanID), Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: gate.ID},
		Region: gate.Community, Actor: p.Actor(), Time: in.ScannedAt.UTC(), SealTo: scanSubject(ev)}
	d := events.Draft{Type: passevents.TypeScanned, Meta: meta, Payload: ev, Expect: events.ExpectAny()}
	return d, ScanResult{ScanID: in.ScanID, Decision: ev.Decision, Reason: ev.Reason, Status: status}, nil
}

func duplicateScan(scanID string) error {
	return &events.Error{Code: events.CodeDuplicate, Field: "scan_id", Message: "scan " + scanID + " was already recorded"}
}

// decide applies the scan rules in order: the token must parse and carry a
// valid signature, be inside its validity window at the scan time, not be
// revoked, belong to the gate's community; the holder must not be red, and
// if the gate asks for the ID number's last 4, they must match.
func (s *Service) decide(ctx context.Context, gate Gate, in ScanInput) (passevents.Scanned, string) {
	ev := passevents.Scanned{ScanID: in.ScanID, Pass: "unknown", Holder: "", Community: gate.Community, Direction: in.Direction, Decision: passevents.Deny}
	claims, err := s.Tokens.Verify(in.Token, in.ScannedAt)
	var d *Denial
	if errors.As(err, &d) {
		ev.Reason = d.Reason
		if claims.PassID != "" {
			ev.Pass = claims.PassID
		}
		return ev, ""
	}
	if err != nil {
		ev.Reason = DenyMalformed
		return ev, ""
	}
	ev.Pass = claims.PassID
	var (
		pass Pass
		per  holder
		have bool
	)
	s.State.read(func() {
		if ps := s.State.passes[claims.PassID]; ps != nil {
			pass, have = *ps, true
		}
	})
	if have {
		per, _, _ = s.holderOf(pass.Person)
	}
	switch {
	case !have:
		ev.Reason = DenyForged // signed by us but never issued: a leaked key
	case pass.Revoked != "" && !pass.RevokedAt.After(in.ScannedAt):
		ev.Reason = DenyRevoked
	case claims.Community != gate.Community:
		ev.Reason = DenyWrongCommunity
	case per.Erased:
		ev.Reason = DenyErased
	case per.Status == residents.Red:
		ev.Reason = DenyRedStatus
	case in.IDLast4 != "" && s.Vault.Index("last4:"+per.ID, normalizeLast4(in.IDLast4)) != per.Sealed.Last4Index:
		ev.Reason = DenyIDMismatch
	default:
		ev.Decision, ev.Reason = passevents.Allow, ""
	}
	ev.Holder = per.ID
	return ev, per.Status
}

func normalizeLast4(s string) string {
	if len(s) == 4 && (s[3] == 'x') {
		return s[:3] + "X"
	}
	return s
}

// ScanBatch decides an offline batch of up to MaxBatch scans, keeping each
// scan's original time, and records the scans it decided as one atomic
// batch of the ledger (events.BatchAppender): all of them or none, with one
// acknowledgement. Every item gets a result. An invalid item, or one the
// principal may not scan, is rejected with its problem before the batch
// and does not stop the others; a scan id recorded before, or repeated in
// the batch, is answered "duplicate" and not recorded again. If the ledger
// fails, the answer is an error and none of the batch is recorded: the
// phone retries the whole batch.
//
// The one exception is a ledger whose servers take fewer events in one
// batch than MaxBatch (nats-server's max_batch_size, 1000 by default, was
// lowered): then the scans go as several batches, in order, each all or
// nothing; if a later one fails, the error answers the request and the
// retried upload answers the scans already recorded "duplicate". Nothing
// is lost and nothing is recorded twice either way.
func (s *Service) ScanBatch(ctx context.Context, p auth.Principal, in []ScanInput) ([]BatchResult, error) {
	if len(in) == 0 {
		return nil, events.Invalid("scans", "the batch is empty")
	}
	if len(in) > MaxBatch {
		return nil, &events.Error{Code: events.CodeTooLarge, Field: "scans", Message: fmt.Sprintf("at most %d scans per batch, got %d", MaxBatch, len(in))}
	}
	if err := s.warm(); err != nil {
		return nil, err
	}
	out := make([]BatchResult, len(in))
	todo := make([]int, len(in))
	for i := range todo {
		todo[i] = i
	}
	for attempt := 1; ; attempt++ {
		drafts, at, err := s.decideBatch(ctx, p, in, todo, out)
		if err != nil {
			return nil, err
		}
		rest, err := s.recordBatch(ctx, drafts, at, out)
		if events.ErrorCode(err) == events.CodeConflict && attempt < maxBatchAttempts {
			// Some of these scans were recorded meanwhile (the same
			// upload retried through another replica): once the state
			// has them, they answer "duplicate".
			if err := s.catchUp(ctx); err != nil {
				return nil, err
			}
			todo = rest
			continue
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// maxBatchAttempts bounds how often ScanBatch decides again after a
// conflict: each one means a concurrent upload of the same scans.
const maxBatchAttempts = 3

// decideBatch decides the items todo of in, writes the answers of those
// rejected or duplicate into out, and returns the events of the others
// with, for each, the index of its item.
func (s *Service) decideBatch(ctx context.Context, p auth.Principal, in []ScanInput, todo []int, out []BatchResult) ([]events.Draft, []int, error) {
	var (
		drafts []events.Draft
		at     []int
		seen   = make(map[string]bool, len(todo))
	)
	for _, i := range todo {
		d, r, err := s.decideScan(ctx, p, in[i])
		out[i] = BatchResult{ScanResult: r}
		out[i].ScanID = in[i].ScanID
		switch {
		case err == nil:
		case errors.Is(err, events.ErrDuplicate):
			out[i].Decision = "duplicate"
			continue
		case events.ErrorCode(err) == events.CodeInvalid || events.ErrorCode(err) == events.CodeForbidden:
			var e *events.Error
			errors.As(err, &e)
			out[i].Decision, out[i].Error = "rejected", &ItemError{Code: string(e.Code), Field: e.Field, Message: e.Message}
			continue
		default:
			return nil, nil, err // the state is not ready: the phone retries the batch
		}
		if seen[d.Meta.ID] { // the same scan twice in one upload
			out[i] = BatchResult{ScanResult: ScanResult{ScanID: in[i].ScanID, Decision: "duplicate"}}
			continue
		}
		seen[d.Meta.ID] = true
		drafts, at = append(drafts, d), append(at, i)
	}
	return drafts, at, nil
}

// recordBatch appends drafts as one atomic batch (or, on a ledger that
// takes fewer at once, as consecutive batches of what it takes) and sets
// the sequences of their items out[at[j]]. A batch recorded already (a
// retry the state has not seen yet) answers its items "duplicate". On a
// conflict it returns the items not recorded, to decide again.
func (s *Service) recordBatch(ctx context.Context, drafts []events.Draft, at []int, out []BatchResult) ([]int, error) {
	w := events.Waiters{s.State, s.Accounts}
	for len(drafts) > 0 {
		n := min(len(drafts), s.Store.MaxBatch())
		recs, err := events.AppendBatchAndWait(ctx, s.Store, s.Reg, w, drafts[:n])
		if events.ErrorCode(err) == events.CodeTooLarge && s.Store.MaxBatch() < n {
			continue // the ledger's servers take fewer: smaller batches
		}
		dup := errors.Is(err, events.ErrDuplicate)
		if err != nil && !dup {
			return at, err
		}
		for j, r := range recs {
			o := &out[at[j]]
			o.Seq = r.Seq
			if dup {
				o.ScanResult = ScanResult{ScanID: o.ScanID, Decision: "duplicate", Seq: r.Seq}
			}
		}
		drafts, at = drafts[n:], at[n:]
	}
	return nil, nil
}

// BatchResult is one item's result in a batch.
type BatchResult struct {
	ScanResult
	Error *ItemError `json:"error,omitempty"`
}

// ItemError says why one batch item was rejected.
type ItemError struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// CheckInInput is a resident's contact-free check-in: they scanned the
// gate's mini-program code (scene = gate id) and chose a direction.
type CheckInInput struct {
	Gate      string `json:"gate"`
	PersonID  string `json:"person_id"`
	Direction string `json:"direction"`
}

// CheckIn records an entry or exit made by the resident themselves at a
// gate's code, decided by the same rules as a scan of their own pass.
func (s *Service) CheckIn(ctx context.Context, p auth.Principal, in CheckInInput) (ScanResult, error) {
	if err := auth.Authorize(p, auth.ActSelfCheckIn, ""); err != nil {
		return ScanResult{}, err
	}
	if err := s.warm(); err != nil {
		return ScanResult{}, err
	}
	if in.Direction != passevents.In && in.Direction != passevents.Out {
		return ScanResult{}, events.Invalid("direction", "direction must be %q or %q", passevents.In, passevents.Out)
	}
	gate, ok := s.Gate(ctx, in.Gate)
	if !ok {
		return ScanResult{}, events.Invalid("gate", "unknown gate %q", in.Gate)
	}
	per, pass, mine := s.member(p.Subject, in.PersonID)
	if !mine || per.Erased {
		return ScanResult{}, &events.Error{Code: events.CodeNotFound, Field: "person_id", Message: "no such member of your household"}
	}
	now := s.Now.UTC()
	ev := passevents.Scanned{ScanID: "self-" + strings.ReplaceAll(uuid.NewString(), "-", ""), Pass: "none", Holder: per.ID, Community: gate.Community, Direction: in.Direction, Decision: passevents.Deny}
	switch {
	case pass.ID == "":
		ev.Reason = DenyMalformed
	case pass.Revoked != "":
		ev.Pass, ev.Reason = pass.ID, DenyRevoked
	case !now.Before(pass.NotAfter):
		ev.Pass, ev.Reason = pass.ID, DenyExpired
	case pass.Community != gate.Community:
		ev.Pass, ev.Reason = pass.ID, DenyWrongCommunity
	case per.Status == residents.Red:
		ev.Pass, ev.Reason = pass.ID, DenyRedStatus
	default:
		ev.Pass, ev.Decision = pass.ID, passevents.Allow
	}
	// The resident is named only inside the sealed scan: in clear, a
	// resident's actor id on a gate's events would be a public trail.
	meta := events.Meta{Aggregate: events.Aggregate{Kind: passevents.KindGate, ID: gate.ID}, Region: gate.Community, Actor: p.PublicActor(), Time: now, SealTo: per.ID}
	rec, err := s.append(ctx, passevents.TypeScanned, meta, ev, events.ExpectAny())
	if err != nil {
		return ScanResult{}, err
	}
	return ScanResult{ScanID: ev.ScanID, Decision: ev.Decision, Reason: ev.Reason, Seq: rec.Seq, Status: per.Status}, nil
}

// warm refuses a decision while the state is still reading the ledger
// after a start (Service.Warm).
func (s *Service) warm() error {
	if s.Warm == nil {
		return nil
	}
	return s.Warm()
}
