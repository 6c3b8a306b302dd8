package projectiontest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/onebook/onebook/projections"
)

// RoundTripBSON checks that every document of ps in store comes back the
// same through BSON, as MongoDB stores it (its JSON and its BSON, whatever
// the order of map keys), and returns how many documents it checked.
func RoundTripBSON(t testing.TB, store projections.DocStore, ps []projections.Projection) int {
	t.Helper()
	n := 0
	for _, p := range ps {
		err := store.Scan(context.Background(), p, func(id string, d *projections.Doc, err error) error {
			if err != nil {
				return err
			}
			n++
			raw, err := bson.Marshal(d.State)
			if err != nil {
				t.Errorf("%s %s: %v", p.Name(), id, err)
				return nil
			}
			back := p.NewState()
			if err := bson.Unmarshal(raw, back); err != nil {
				t.Errorf("%s %s: %v", p.Name(), id, err)
				return nil
			}
			again, _ := bson.Marshal(back)
			a, _ := json.Marshal(d.State)
			b, _ := json.Marshal(back)
			if string(a) != string(b) || normalize(raw) != normalize(again) {
				t.Errorf("%s %s changes through BSON:\n%s\n%s", p.Name(), id, a, b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// normalize writes a BSON document with its keys sorted (maps are encoded
// in random order), so that two encodings of one document compare equal.
func normalize(raw bson.Raw) string {
	els, err := raw.Elements()
	if err != nil {
		return "!invalid"
	}
	slices.SortFunc(els, func(x, y bson.RawElement) int { return strings.Compare(x.Key(), y.Key()) })
	var b strings.Builder
	b.WriteByte('{')
	for _, e := range els {
		v := e.Value()
		b.WriteString(e.Key() + ":")
		if doc, ok := v.DocumentOK(); ok {
			b.WriteString(normalize(doc))
		} else if arr, ok := v.ArrayOK(); ok {
			b.WriteString("[" + normalize(bson.Raw(arr)) + "]")
		} else {
			b.WriteString(v.Type.String() + "=" + v.String())
		}
		b.WriteByte(',')
	}
	b.WriteByte('}')
	return b.String()
}
