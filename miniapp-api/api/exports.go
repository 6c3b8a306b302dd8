package api

import (
	"archive/zip"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/exports"
	"github.com/onebook/onebook/events"
)

// Exporter writes export bundles for the API (backend/app wires the
// ledger, its tiles and checkpoint, and the seal key into it).
type Exporter interface {
	// Views lists the views p may export.
	Views(p auth.Principal) ([]exports.View, error)
	// Export writes a bundle of view into dir, after checking that p may
	// export q.Region ("": p's scope) and recording the export as an access
	// event of p with reason.
	Export(ctx context.Context, p auth.Principal, view string, q exports.Query, format, reason, dir string) (exports.Manifest, error)
}

func (h *handlers) exportRoutes(app *fiber.App) {
	authd := authenticate(h.cfg.Sessions)
	app.Get("/exports", authd, h.listExports)
	app.Get("/exports/:view", authd, h.export)
}

func (h *handlers) listExports(c *fiber.Ctx) error {
	if h.cfg.Exports == nil {
		return events.Errorf(events.CodeUnavailable, "exports are not configured")
	}
	views, err := h.cfg.Exports.Views(principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"views": views, "formats": []string{exports.CSV, exports.XLSX}})
}

// export answers a zip of the bundle of one view: events recorded in the
// region given (default: the caller's scope, which must cover it), between
// from and to.
func (h *handlers) export(c *fiber.Ctx) error {
	if h.cfg.Exports == nil {
		return events.Errorf(events.CodeUnavailable, "exports are not configured")
	}
	var q exports.Query
	if c.Query("region") != "" {
		r, err := regionParam(c, "region")
		if err != nil {
			return err
		}
		q.Region = r
	}
	q.Prefix = c.Query("prefix")
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := c.Query(t.name); s != "" {
			tm, err := time.Parse(time.RFC3339, s)
			if err != nil {
				if tm, err = time.Parse("2006-01-02", s); err != nil {
					return events.Invalid(t.name, "must be an RFC 3339 time or YYYY-MM-DD")
				}
			}
			*t.dst = tm.UTC()
		}
	}
	reason := c.Query("reason", "dashboard export")
	tmp, err := os.MkdirTemp("", "onebook-export-")
	if err != nil {
		return err
	}
	dir := filepath.Join(tmp, "bundle")
	m, err := h.cfg.Exports.Export(c.UserContext(), principal(c), c.Params("view"), q, c.Query("format", exports.CSV), reason, dir)
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	name := m.View + "-" + time.Now().UTC().Format("20060102T150405Z") + ".zip"
	c.Set(fiber.HeaderContentType, "application/zip")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	pr, pw := io.Pipe()
	go func() {
		defer os.RemoveAll(tmp)
		pw.CloseWithError(zipDir(pw, dir))
	}()
	return c.SendStream(pr)
}

// zipDir writes the files under dir into a zip stream, paths relative to
// dir, so that unzipping gives the bundle directory's contents.
func zipDir(w io.Writer, dir string) error {
	zw := zip.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zf, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = io.Copy(zf, f)
		return err
	})
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	return err
}
