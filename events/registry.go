package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"time"
)

// Payload is the typed body of an event. Validate reports the first problem
// with a field path relative to the payload.
type Payload interface {
	Validate() error
}

// Upcaster rewrites a payload of schema version From into version From+1.
// Old events are never rewritten in the ledger; they are upcast when read.
type Upcaster struct {
	From int
	Fn   func(old json.RawMessage) (json.RawMessage, error)
}

type schema struct {
	typ      string
	version  int
	kind     string // aggregate kind the type belongs to
	goType   reflect.Type
	disclose disclosure
	upcaster map[int]func(json.RawMessage) (json.RawMessage, error)
}

// Registry knows every event type: its current schema version, the aggregate
// kind it belongs to, its Go payload type and how to upcast older versions.
// A Registry is built once at start-up and only read afterwards.
type Registry struct {
	schemas map[string]*schema
	keyring Keyring // seals and opens payloads; nil: none (sealed payloads cannot be written or read)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{schemas: make(map[string]*schema)} }

// Register adds event type typ, whose payload is P at schema version version,
// for aggregates of kind. It panics on a programming error (duplicate type,
// missing upcaster), since registration happens at start-up from code.
func Register[P Payload](r *Registry, typ, kind string, version int, ups ...Upcaster) {
	if !isKind(typ, true) || !isKind(kind, false) || version < 1 {
		panic(fmt.Sprintf("events: bad registration %q/%q v%d", typ, kind, version))
	}
	if _, dup := r.schemas[typ]; dup {
		panic("events: type registered twice: " + typ)
	}
	var zero P
	t := reflect.TypeOf(zero)
	if t == nil || t.Kind() != reflect.Struct {
		panic("events: payload of " + typ + " must be a struct type")
	}
	s := &schema{typ: typ, version: version, kind: kind, goType: t, disclose: disclosureOf(typ, t), upcaster: map[int]func(json.RawMessage) (json.RawMessage, error){}}
	for _, u := range ups {
		s.upcaster[u.From] = u.Fn
	}
	for v := 1; v < version; v++ {
		if s.upcaster[v] == nil {
			panic(fmt.Sprintf("events: %s v%d has no upcaster to v%d", typ, v, v+1))
		}
	}
	r.schemas[typ] = s
}

// Types lists the registered event types in sorted order.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.schemas))
	for t := range r.schemas {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Version returns the current schema version of typ, 0 if unknown.
func (r *Registry) Version(typ string) int {
	if s := r.schemas[typ]; s != nil {
		return s.version
	}
	return 0
}

// Meta is what an event carries besides its payload.
type Meta struct {
	ID        string // empty: a fresh UUIDv7
	Aggregate Aggregate
	Region    Region
	Actor     Actor
	Time      time.Time // zero: now
	// SealTo is the subject (a person id, "case-<id>", ...) whose key
	// seals the payload's sealed fields; required when it has any.
	SealTo string
}

// New builds a validated event of type typ at its current schema version,
// its sealed fields sealed to m.SealTo (see sealed.go).
func (r *Registry) New(ctx context.Context, typ string, m Meta, p Payload) (Event, error) {
	s := r.schemas[typ]
	if s == nil {
		return Event{}, Invalid("type", "unknown event type %q", typ)
	}
	if reflect.TypeOf(p) != s.goType {
		return Event{}, Errorf(CodeInternal, "event %s: payload is %T, want %v", typ, p, s.goType)
	}
	if m.Aggregate.Kind != s.kind {
		return Event{}, Invalid("aggregate.kind", "event %s belongs to aggregate kind %q, not %q", typ, s.kind, m.Aggregate.Kind)
	}
	if err := p.Validate(); err != nil {
		return Event{}, prefixField("payload", err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return Event{}, Errorf(CodeInternal, "event %s: encode payload: %v", typ, err)
	}
	e := Event{ID: m.ID, Type: typ, Version: s.version, Aggregate: m.Aggregate, Region: m.Region, Actor: m.Actor, Time: m.Time}
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.Payload, err = r.seal(ctx, s, e.ID, m.SealTo, raw); err != nil {
		return Event{}, err
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Decode returns the typed payload of e at the current schema version,
// its sealed fields opened with the registry's keyring, upcasting older
// versions step by step. Unknown fields are refused so that a payload
// cannot smuggle data the schema does not declare.
//
// When the key the payload was sealed to has been destroyed (the person
// was erased), Decode returns the payload with its public fields only and
// its sealed fields zero, unvalidated: folds treat such an event as
// what the public sees of it. A sealed payload without a keyring that
// opens it is ErrNoKey.
func (r *Registry) Decode(ctx context.Context, e Event) (Payload, error) {
	s := r.schemas[e.Type]
	if s == nil {
		return nil, Invalid("type", "unknown event type %q", e.Type)
	}
	if e.Version < 1 {
		return nil, Invalid("v", "schema version must be at least 1, got %d", e.Version)
	}
	if e.Version > s.version {
		return nil, Invalid("v", "event %s has schema version %d, newer than this build's %d", e.Type, e.Version, s.version)
	}
	if e.Version == s.version {
		if start, end, ok := findBox(e.Payload); ok {
			return r.decodeSealed(ctx, s, e, start, end)
		}
	}
	raw, withheld, err := r.Open(ctx, e)
	if err != nil {
		return nil, err
	}
	for v := e.Version; v < s.version; v++ {
		raw, err = s.upcaster[v](raw)
		if err != nil {
			return nil, Invalid("payload", "upcast %s v%d→v%d: %v", e.Type, v, v+1, err)
		}
	}
	pv := reflect.New(s.goType)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(pv.Interface()); err != nil {
		return nil, Invalid("payload", "event %s v%d: %v", e.Type, s.version, err)
	}
	p := pv.Elem().Interface().(Payload)
	if withheld {
		return p, nil
	}
	if err := p.Validate(); err != nil {
		return nil, prefixField("payload", err)
	}
	return p, nil
}

// DecodeAs is Decode with a type assertion to P.
func DecodeAs[P Payload](ctx context.Context, r *Registry, e Event) (P, error) {
	var zero P
	p, err := r.Decode(ctx, e)
	if err != nil {
		return zero, err
	}
	typed, ok := p.(P)
	if !ok {
		return zero, Errorf(CodeInternal, "event %s decodes to %T, not %T", e.Type, p, zero)
	}
	return typed, nil
}

func prefixField(prefix string, err error) error {
	if e, ok := err.(*Error); ok {
		c := *e
		if c.Field == "" {
			c.Field = prefix
		} else {
			c.Field = prefix + "." + c.Field
		}
		return &c
	}
	return &Error{Code: CodeInvalid, Field: prefix, Message: err.Error()}
}
