package api

import (
	"net/http/httptest"
	"testing"
)

// TestMountSharesLimits: cells built with the process's one Limiter count
// a client once across all of them; cells with limiters of their own (as
// before) would let it have the limit once per cell.
func TestMountSharesLimits(t *testing.T) {
	const max = 3
	tests := []struct {
		name   string
		shared bool
		want   []int // the statuses of requests alternating between the cells
	}{
		{"one limiter for the process", true, []int{404, 404, 404, 429, 429, 429}},
		{"a limiter per cell", false, []int{404, 404, 404, 404, 404, 404}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := NewLimiter(Limits{Client: max})
			var cells []Cell
			for _, p := range []string{"/p/11", "/p/31"} {
				cfg := Config{Limits: Limits{Client: max}}
				if tt.shared {
					cfg.Limiter = lim
				}
				cells = append(cells, Cell{Name: p, Prefix: p, App: NewLog(cfg)})
			}
			app := Mount(cells)
			for i, want := range tt.want {
				resp, err := app.Test(httptest.NewRequest("GET", cells[i%2].Prefix+"/nothing", nil))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Fatalf("request %d to %s: %d, want %d", i+1, cells[i%2].Prefix, resp.StatusCode, want)
				}
			}
		})
	}
}
