package mongostore

import (
	"testing"
)

func TestClientOptions(t *testing.T) {
	tests := []struct {
		uri       string
		w         any    // the write concern's W; nil: none set
		readLevel string // "": none set
	}{
		{"mongodb://127.0.0.1:27017", nil, ""},
		{"mongodb://m1,m2,m3/?replicaSet=rs0", "majority", "majority"},
		{"mongodb://m1,m2,m3/?replicaSet=rs0&w=1", 1, "majority"},
		{"mongodb://m1,m2,m3/?replicaSet=rs0&readConcernLevel=local", "majority", "local"},
	}
	for _, tt := range tests {
		o := ClientOptions(tt.uri)
		var w any
		if o.WriteConcern != nil {
			w = o.WriteConcern.W
		}
		if w != tt.w {
			t.Errorf("%s: write concern %v, want %v", tt.uri, w, tt.w)
		}
		level := ""
		if o.ReadConcern != nil {
			level = o.ReadConcern.Level
		}
		if level != tt.readLevel {
			t.Errorf("%s: read concern %q, want %q", tt.uri, level, tt.readLevel)
		}
	}
}
