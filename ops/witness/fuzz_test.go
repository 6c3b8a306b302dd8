package witness

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAddCheckpoint posts arbitrary add-checkpoint bodies, as anyone on
// the network may: the witness answers each with a verdict of C2SP
// tlog-witness (200 with a cosignature, or a 4xx saying why), never a
// panic or a 500.
func FuzzAddCheckpoint(f *testing.F) {
	f.Add(body(0, nil, mInit))
	f.Add(body(5, consProof, mNext))
	f.Add(body(8, nil, mNext))
	f.Add(body(3, consProof[:1], mInit))
	f.Add("old 0\n\n" + mInit[:len(mInit)-1])
	f.Add("old 5\nnot base64\n\n" + mNext)
	f.Add(strings.Replace(body(5, consProof, mNext), "monkeys", "bananas", 1))
	w := newWitness(f, f.TempDir())
	f.Fuzz(func(t *testing.T, b string) {
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/add-checkpoint", strings.NewReader(b)))
		switch code := rec.Code; {
		case code == http.StatusOK:
			if !strings.HasPrefix(rec.Body.String(), "— ") {
				t.Fatalf("200 without a cosignature line: %q", rec.Body.String())
			}
		case code >= 400 && code < 500:
		default:
			t.Fatalf("answered %d %q to %q", code, rec.Body.String(), b)
		}
	})
}
