package consent

import (
	"errors"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
)

var templates = map[string]string{"visit": "tpl-visit", "revoked": "tpl-visit", "hop": "tpl-hop", "off": ""}

func TestRecord(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		before    Grants
		answers   map[string]string
		want      Grants
		wantField string
	}{
		{"accept allows one", nil, map[string]string{"tpl-hop": Accept}, Grants{"tpl-hop": {Accept, 1, at}}, ""},
		{"acceptances add up", Grants{"tpl-hop": {Accept, 2, at}}, map[string]string{"tpl-hop": Accept}, Grants{"tpl-hop": {Accept, 3, at}}, ""},
		{"to a bound", Grants{"tpl-hop": {Accept, MaxLeft, at}}, map[string]string{"tpl-hop": Accept}, Grants{"tpl-hop": {Accept, MaxLeft, at}}, ""},
		{"reject withdraws", Grants{"tpl-hop": {Accept, 2, at}}, map[string]string{"tpl-hop": Reject}, Grants{"tpl-hop": {Reject, 0, at}}, ""},
		{"ban withdraws", Grants{"tpl-hop": {Accept, 2, at}}, map[string]string{"tpl-hop": Ban}, Grants{"tpl-hop": {Ban, 0, at}}, ""},
		{"each template on its own", Grants{"tpl-visit": {Accept, 1, at}}, map[string]string{"tpl-hop": Reject}, Grants{"tpl-visit": {Accept, 1, at}, "tpl-hop": {Reject, 0, at}}, ""},
		{"unknown template", nil, map[string]string{"tpl-other": Accept}, nil, "answers"},
		{"unknown answer", nil, map[string]string{"tpl-hop": "maybe"}, nil, "answers"},
		{"nothing", nil, map[string]string{}, nil, "answers"},
		{"an unconfigured kind is no template", nil, map[string]string{"": Accept}, nil, "answers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Record(tt.before, templates, tt.answers, at)
			if tt.wantField != "" {
				var e *events.Error
				if !errors.As(err, &e) || e.Field != tt.wantField {
					t.Fatalf("err %v, want invalid %s", err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, w := range tt.want {
				if got[k] != w {
					t.Errorf("%s: got %+v, want %+v", k, got[k], w)
				}
			}
		})
	}
}

func TestTakeAndGive(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	g, err := Record(nil, templates, map[string]string{"tpl-visit": Accept}, at)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		g        Grants
		template string
		ok       bool
		left     int
	}{
		{"accepted once", g, "tpl-visit", true, 0},
		{"never asked", g, "tpl-hop", false, 0},
		{"used up", Grants{"tpl-visit": {Accept, 0, at}}, "tpl-visit", false, 0},
		{"refused", Grants{"tpl-visit": {Reject, 0, at}}, "tpl-visit", false, 0},
		{"refused, even with a count", Grants{"tpl-visit": {Reject, 3, at}}, "tpl-visit", false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.g[tt.template].Left
			got, ok := Take(tt.g, tt.template)
			if ok != tt.ok || got[tt.template].Left != tt.left {
				t.Fatalf("Take: %v left %d, want %v left %d", ok, got[tt.template].Left, tt.ok, tt.left)
			}
			if tt.g[tt.template].Left != before {
				t.Fatal("Take changed its argument")
			}
		})
	}
	used, _ := Take(g, "tpl-visit")
	if back := Give(used, "tpl-visit"); back["tpl-visit"].Left != 1 {
		t.Fatalf("Give: left %d, want 1", back["tpl-visit"].Left)
	}
	if back := Give(Grants{"tpl-visit": {Reject, 0, at}}, "tpl-visit"); back["tpl-visit"].Left != 0 {
		t.Fatal("Give after a refusal allowed a message")
	}
}

func TestViews(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	v := Views(Grants{"tpl-visit": {Accept, 1, at}}, templates)
	if len(v) != 3 || v[0].Kind != "hop" || v[0].Answer != "" || v[1].Kind != "revoked" || v[1].Left != 1 || v[2].Kind != "visit" || v[2].Left != 1 {
		t.Fatalf("views %+v", v)
	}
}
