package api

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/miniapp-api/dashboard"
)

// DashboardCode is the answer of POST /auth/dashboard-code.
type DashboardCode struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// dashboardRoutes mounts the dashboard page, its assets and its sign-in.
func (h *handlers) dashboardRoutes(app *fiber.App) {
	codes := auth.NewDeviceCodes(nil)
	authd := authenticate(h.cfg.Sessions)
	app.Post("/auth/dashboard-code", authd, func(c *fiber.Ctx) error { return h.dashboardCode(c, codes) })
	app.Post("/auth/dashboard", func(c *fiber.Ctx) error { return h.dashboardSignIn(c, codes) })
	app.Get("/dashboard", serveDashboard)
	app.Get("/dashboard/assets/:file", serveDashboardAsset)
}

func (h *handlers) dashboardCode(c *fiber.Ctx, codes *auth.DeviceCodes) error {
	code, exp, err := codes.Issue(principal(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(DashboardCode{Code: code, ExpiresAt: exp})
}

func (h *handlers) dashboardSignIn(c *fiber.Ctx, codes *auth.DeviceCodes) error {
	var in struct {
		Code string `json:"code"`
	}
	if err := decode(c, &in); err != nil {
		codes.Fail(c.IP())
		return err
	}
	p, err := codes.SignIn(c.IP(), in.Code)
	var blocked *auth.Blocked
	if errors.As(err, &blocked) {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(blocked.Wait.Seconds())+1))
		return c.Status(fiber.StatusTooManyRequests).JSON(errorBody{Error: errorDetail{Code: events.CodeUnavailable, Field: "code", Message: err.Error()}})
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.session(c, p)
}

// dashboardCSP keeps the page to its own origin: its scripts and styles
// come from dashboard/assets beside the page, its data from the API. ECharts sets inline
// styles on the elements it draws (tooltips), hence 'unsafe-inline' for
// styles only.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// serveDashboard answers the page. The page names its assets and the API
// relative to its own URL, so that it works wherever the API is mounted
// (/dashboard for a single ledger, /p/31/dashboard for a province's cell,
// or under a reverse proxy's prefix); /dashboard/ is sent to /dashboard
// (relatively: this app does not know its prefix), from where they
// resolve.
func serveDashboard(c *fiber.Ctx) error {
	if strings.HasSuffix(c.Path(), "/") {
		return c.Redirect("../dashboard", fiber.StatusMovedPermanently)
	}
	return sendDashboardFile(c, "index.html")
}

func serveDashboardAsset(c *fiber.Ctx) error {
	name := c.Params("file")
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return events.Errorf(events.CodeNotFound, "no dashboard asset %q", name)
	}
	return sendDashboardFile(c, "assets/"+name)
}

// sendDashboardFile answers with one embedded file, revalidated by its
// ETag (the files change only with the binary).
func sendDashboardFile(c *fiber.Ctx, name string) error {
	f, ok := dashboard.Open(name)
	if !ok {
		return events.Errorf(events.CodeNotFound, "no dashboard file %q", name)
	}
	etag := `"` + hex.EncodeToString(f.SHA256[:8]) + `"`
	c.Set(fiber.HeaderContentType, f.ContentType)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, etag)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set(fiber.HeaderContentSecurityPolicy, dashboardCSP)
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Send(f.Data)
}
