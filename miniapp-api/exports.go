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
	Views() []exports.View
	// Export writes a bundle into dir, after recording the export as an
	// access event of p with reason.
	Export(ctx context.Context, p auth.Principal, v exports.View, q exports.Query, format, reason, dir string) (exports.Manifest, error)
}

func (h *handlers) exportRoutes(app *fiber.App) {
	authd := authenticate(h.cfg.Sessions)
	app.Get("/exports", authd, h.listExports)
	app.Get("/exports/:view", authd, h.export)
}

func (h *handlers) listExports(c *fiber.Ctx) error {
	if err := auth.Authorize(principal(c), auth.ActExport, ""); err != nil {
		return err
	}
	if h.cfg.Exports == nil {
		return events.Errorf(events.CodeUnavailable, "exports are not configured")
	}
	return c.JSON(fiber.Map{"views": h.cfg.Exports.Views(), "formats": []string{exports.CSV, exports.XLSX}})
}

// export answers a zip of the bundle of one view: events recorded in the
// region given (default: the caller's scope, which must cover it), between
// from and to.
func (h *handlers) export(c *fiber.Ctx) error {
	p := principal(c)
	if err := auth.Authorize(p, auth.ActExport, ""); err != nil {
		return err
	}
	if h.cfg.Exports == nil {
		return events.Errorf(events.CodeUnavailable, "exports are not configured")
	}
	v, ok := exports.Lookup(h.cfg.Exports.Views(), c.Params("view"))
	if !ok {
		return events.Errorf(events.CodeNotFound, "no export view %q (GET /exports lists them)", c.Params("view"))
	}
	format := c.Query("format", exports.CSV)
	if format != exports.CSV && format != exports.XLSX {
		return events.Invalid("format", "must be csv or xlsx")
	}
	region := p.Scope
	if c.Query("region") != "" {
		r, err := regionParam(c, "region")
		if err != nil {
			return err
		}
		region = r
	}
	if err := auth.Authorize(p, auth.ActExport, region); err != nil {
		return err
	}
	q := exports.Query{Region: region, Prefix: c.Query("prefix")}
	if region == events.National {
		q.Region = ""
	}
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
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return events.Invalid("to", "the range ends before it starts")
	}
	reason := c.Query("reason", "dashboard export")
	tmp, err := os.MkdirTemp("", "onebook-export-")
	if err != nil {
		return err
	}
	dir := filepath.Join(tmp, "bundle")
	if _, err := h.cfg.Exports.Export(c.UserContext(), p, v, q, format, reason, dir); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	name := v.Name + "-" + time.Now().UTC().Format("20060102T150405Z") + ".zip"
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
