package exports

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/onebook/onebook/events"
)

// readLineCases are lines readLine reads itself (fast) or leaves to
// encoding/json: the table of TestReadLine and the seeds of FuzzReadLine.
func readLineCases() []struct {
	line string
	fast bool
} {
	const ev = `{"actor":{"id":"op7","role":"gate_operator"},"aggregate":{"id":"g-east-1","kind":"gate"},"id":"01936b2e-7c1a-7d3e-8f00-0123456789ab","payload":{"a":"\"key\":\"","sealed":{"box":"AAAA","key":"BB==","to":"CC=="}},"region":"110105001001","time":"2026-02-03T04:05:06.789Z","type":"pass.scanned","v":2}`
	return []struct {
		line string
		fast bool
	}{
		{`{"index":0,"event":` + ev + `}`, true},
		{`{"index":41,"event":` + ev + `,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}`, true},
		{`{"index":41,"event":` + ev + `,"key":""}`, true},
		{`{"index":18446744073709551615,"event":` + ev + `,"erased":true}`, true},
		// Valid JSON in another form: encoding/json reads it.
		{`{"event":` + ev + `,"index":41}`, false},
		{`{"index":41, "event":` + ev + `}`, false},
		{`{"index":41,"event":` + ev + `,"key":"AAEC\/w=="}`, false},
		{`{"index":41,"event":` + ev + `,"key":"AA","erased":true}`, false},
		{`{"index":41,"event":` + ev + `,"extra":1}`, false},
		// Not valid: encoding/json says why.
		{`{"index":041,"event":` + ev + `}`, false},
		{`{"index":-1,"event":` + ev + `}`, false},
		{`{"index":41,"event":` + ev + `,"key":"A=A="}`, false},
		{`{"index":41,"event":` + ev + `,"key":"AAEC` + "\r" + `Aw=="}`, false},
		{`{"index":41,"event":` + ev + `,"key":"AAEC` + "\n" + `Aw=="}`, false},
		{`{"index":41,"event":` + ev + `,"key":"AAEC Aw=="}`, false},
		{`{"index":41,"event":` + ev + `,"key":"AAEC\"Aw=="}`, false},
		{`{"index":41,"event":` + strings.Replace(ev, `"v":2`, `"v":02`, 1) + `}`, false},
		{`{"index":41,"event":` + ev, false},
	}
}

// TestReadLine: whatever readLine reads without a JSON decoder, encoding/json
// reads the same; lines in any other form are left to encoding/json.
func TestReadLine(t *testing.T) {
	for _, tt := range readLineCases() {
		if _, _, ok := readLine([]byte(tt.line)); ok != tt.fast {
			t.Errorf("readLine(%s): read %v, want %v", tt.line, ok, tt.fast)
		}
		checkReadLine(t, []byte(tt.line))
	}
}

// FuzzReadLine: a bundle's lines are a stranger's input; whatever
// readLine reads, encoding/json and events.Parse read the same.
func FuzzReadLine(f *testing.F) {
	for _, tt := range readLineCases() {
		f.Add([]byte(tt.line))
	}
	f.Fuzz(checkReadLine)
}

// checkReadLine fails t if readLine reads line other than encoding/json
// and events.Parse do.
func checkReadLine(t *testing.T, line []byte) {
	got, e, ok := readLine(line)
	if !ok {
		return
	}
	var want entryLine
	if err := json.Unmarshal(line, &want); err != nil {
		t.Fatalf("readLine reads %s, encoding/json refuses it: %v", line, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("readLine(%s) = %+v, encoding/json reads %+v", line, got, want)
	}
	if ev, err := events.Parse(got.Event); err != nil || !reflect.DeepEqual(e, ev) {
		t.Fatalf("readLine(%s): event %+v, want %+v (%v)", line, e, ev, err)
	}
}

// TestJSONFields: a view's columns are the JSON fields encoding/json
// writes, an embedded struct's promoted, omitted ones included.
func TestJSONFields(t *testing.T) {
	type inner struct {
		Day   string `json:"day"`
		Total int64  `json:"total,omitempty"`
	}
	type named struct{ X int }
	for _, tc := range []struct {
		name  string
		state any
		want  []string
	}{
		{"flat", &struct {
			B    int `json:"b"`
			A    int `json:"a,omitzero"`
			Skip int `json:"-"`
			C    int
			d    int
		}{}, []string{"C", "a", "b"}},
		{"embedded", &struct {
			inner
			Figures map[string]int `json:"figures"`
		}{}, []string{"day", "figures", "total"}},
		{"embedded with a name", &struct {
			named `json:"n"`
		}{}, []string{"n"}},
	} {
		got := jsonFields(tc.state)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		b, _ := json.Marshal(tc.state)
		var m map[string]any
		json.Unmarshal(b, &m)
		for k := range m {
			if !slices.Contains(got, k) {
				t.Errorf("%s: encoding/json writes %q, not a column", tc.name, k)
			}
		}
	}
}
