package api

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/passes"
)

// FuzzDecodeBodies feeds arbitrary request bodies to the strict JSON
// decoder for the request types clients send: the answer is a value or a
// 400 naming the problem, never a panic or a 5xx.
func FuzzDecodeBodies(f *testing.F) {
	f.Add(`{"scan_id":"a","token":"OB1.x","gate":"g","direction":"in","scanned_at":"2026-02-01T00:00:00Z"}`)
	f.Add(`{"scans":[{"scan_id":"a"}]}`)
	f.Add(`{"community":"110105001001","building":"3","members":[{"name":"张三","id_number":"11010519491231002X","phone":"13800138000"}]}`)
	f.Add(`{"person_id":"p","temperature":"hot"}`)
	f.Add(`{"a":1} trailing`)
	f.Add(`[`)
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(slog.Default())})
	route := func(path string, v func() any) {
		app.Post(path, func(c *fiber.Ctx) error {
			if err := decode(c, v()); err != nil {
				return err
			}
			return c.SendStatus(200)
		})
	}
	route("/scan", func() any { return new(passes.ScanInput) })
	route("/batch", func() any { return new(struct{ Scans []passes.ScanInput }) })
	route("/register", func() any { return new(passes.RegisterInput) })
	route("/declare", func() any { return new(passes.DeclareInput) })
	route("/visit", func() any { return new(passes.VisitInput) })
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/scan", "/batch", "/register", "/declare", "/visit"} {
			req := httptest.NewRequest("POST", path, bytes.NewReader([]byte(body)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 && resp.StatusCode != 400 {
				t.Fatalf("%s %q: %d %s", path, body, resp.StatusCode, b)
			}
		}
	})
}
