package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPost(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		wantErr string
	}{
		{"accepted", http.StatusAccepted, ""},
		{"refused", http.StatusInternalServerError, "500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got, ctype string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got, ctype = string(b), r.Header.Get("Content-Type")
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			err := Poster{URL: srv.URL}.Post(context.Background(), []byte(`{"alert":"a1"}`))
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Post: %v, want an error with %q", err, tt.wantErr)
			}
			if got != `{"alert":"a1"}` || ctype != "application/json" {
				t.Fatalf("the server got %q (%s)", got, ctype)
			}
		})
	}
}
