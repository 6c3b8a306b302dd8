package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/onebook/onebook/backend/accounts"
	"github.com/onebook/onebook/backend/auth"
	"github.com/onebook/onebook/backend/passes"
	"github.com/onebook/onebook/events"
)

// WeChat is what the API needs from WeChat (backend/wechat).
type WeChat interface {
	// OpenID exchanges a wx.login code for the user's openid.
	OpenID(ctx context.Context, code string) (string, error)
	// GateCode returns the PNG of the mini-program code of a gate.
	GateCode(ctx context.Context, scene, page string) ([]byte, error)
	// PhoneNumber resolves a getPhoneNumber code to the user's number.
	PhoneNumber(ctx context.Context, code string) (string, error)
	// CheckText runs WeChat's content security check on user text.
	CheckText(ctx context.Context, openID, text string) (bool, error)
}

// checkText refuses free text that fails WeChat's content security check,
// naming the field.
func (h *handlers) checkText(c *fiber.Ctx, fields map[string]string) error {
	p := principal(c)
	for field, text := range fields {
		if text == "" {
			continue
		}
		ok, err := h.cfg.WeChat.CheckText(c.UserContext(), p.OpenID, text)
		if err != nil {
			return err
		}
		if !ok {
			return events.Invalid(field, "the text was refused by the content security check")
		}
	}
	return nil
}

// PassKeys serves what offline scanners need: the public keys of the pass
// tokens and the signed revocation list, both as JSON.
type PassKeys interface {
	KeysJSON() ([]byte, error)
	// Revocations returns the signed revocation list and a strong entity
	// tag of its bytes; both stay the same until the list changes.
	Revocations(ctx context.Context) (list []byte, etag string, err error)
}

func (h *handlers) passRoutes(app *fiber.App) {
	a := app.Group("/auth")
	a.Post("/wechat", h.signIn)
	a.Post("/staff/bind", h.bindStaff)
	app.Get("/passes/keys", h.passKeys)
	app.Get("/passes/revocations", h.revocations)

	authd := authenticate(h.cfg.Sessions)
	app.Get("/me", authd, h.me)
	app.Get("/me/household", authd, h.household)
	app.Put("/me/household", authd, h.register)
	app.Delete("/me/household", authd, h.erase)
	app.Post("/me/declarations", authd, h.declare)
	app.Get("/me/passes/:person", authd, h.pass)
	app.Post("/me/passes/:person/revoke", authd, h.revokePass)
	app.Post("/gates", authd, h.registerGate)
	app.Get("/gates/:gate/code", authd, h.gateCode)
	app.Post("/scans", authd, h.scan)
	app.Post("/scans/batch", authd, h.scanBatch)
	app.Post("/staff", authd, h.addStaff)
	app.Post("/staff/:staff/disable", authd, h.disableStaff)
	app.Post("/transfers", authd, h.confirmTransfer)
	app.Post("/auth/signout-everywhere", authd, h.signOutEverywhere)
	app.Post("/me/checkins", authd, h.checkIn)
	app.Post("/me/visits", authd, h.invite)
	app.Get("/me/visits", authd, h.myVisits)
	app.Post("/visits", authd, h.requestVisit)
	app.Get("/visits/pending", authd, h.pendingVisits)
	app.Post("/visits/:visit/decision", authd, h.decideVisit)
	app.Get("/visits/:visit/pass", authd, h.visitPass)
	app.Get("/me/subscriptions", authd, h.subscriptions)
	app.Post("/me/subscriptions", authd, h.recordConsent)
}

func (h *handlers) subscriptionService() (Subscriptions, error) {
	if h.cfg.Subscriptions == nil {
		return nil, &events.Error{Code: events.CodeUnavailable, Message: "notifications are not configured"}
	}
	return h.cfg.Subscriptions, nil
}

func (h *handlers) subscriptions(c *fiber.Ctx) error {
	svc, err := h.subscriptionService()
	if err != nil {
		return err
	}
	vs, err := svc.Subscriptions(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"subscriptions": vs})
}

// recordConsent records what wx.requestSubscribeMessage answered, template
// id by template id.
func (h *handlers) recordConsent(c *fiber.Ctx) error {
	var in struct {
		Answers map[string]string `json:"answers"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	svc, err := h.subscriptionService()
	if err != nil {
		return err
	}
	vs, err := svc.RecordConsent(c.UserContext(), principal(c), in.Answers)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"subscriptions": vs})
}

// checkIn answers like a scan: 200 allowed, 403 denied with the reason.
func (h *handlers) checkIn(c *fiber.Ctx) error {
	var in passes.CheckInInput
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := h.cfg.Passes.CheckIn(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	if r.Decision != "allow" {
		return c.Status(fiber.StatusForbidden).JSON(fiber.Map{"scan": r, "error": errorDetail{Code: events.CodeForbidden, Field: "person_id", Message: "check-in denied: " + r.Reason}})
	}
	return c.JSON(fiber.Map{"scan": r})
}

func (h *handlers) invite(c *fiber.Ctx) error {
	var in passes.VisitInput
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := h.cfg.Passes.Invite(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return created(c, v)
}

func (h *handlers) requestVisit(c *fiber.Ctx) error {
	var in passes.VisitInput
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := h.cfg.Passes.RequestVisit(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return created(c, v)
}

func (h *handlers) myVisits(c *fiber.Ctx) error {
	vs, err := h.cfg.Passes.MyVisits(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"visits": vs})
}

func (h *handlers) pendingVisits(c *fiber.Ctx) error {
	vs, err := h.cfg.Passes.PendingVisits(c.UserContext(), principal(c), events.Region(c.Query("community")))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"visits": vs})
}

func (h *handlers) decideVisit(c *fiber.Ctx) error {
	var in struct {
		Approve bool   `json:"approve"`
		Reason  string `json:"reason"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := h.cfg.Passes.DecideVisit(c.UserContext(), principal(c), c.Params("visit"), in.Approve, in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (h *handlers) visitPass(c *fiber.Ctx) error {
	t, err := h.cfg.Passes.VisitPass(c.UserContext(), principal(c), c.Params("visit"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(t)
}

// Session is the answer of a sign-in.
type Session struct {
	Token      string        `json:"token"`
	ExpiresAt  time.Time     `json:"expires_at"`
	Role       auth.Role     `json:"role"`
	Subject    string        `json:"subject"`
	Scope      events.Region `json:"scope,omitempty"`
	Registered bool          `json:"registered"`
}

func (h *handlers) session(c *fiber.Ctx, p auth.Principal) error {
	tok, exp, err := h.cfg.Sessions.Issue(p)
	if err != nil {
		return err
	}
	return c.JSON(Session{Token: tok, ExpiresAt: exp, Role: p.Role, Subject: p.Subject, Scope: p.Scope, Registered: p.Role != auth.Resident || p.Scope != ""})
}

func (h *handlers) signIn(c *fiber.Ctx) error {
	var in struct {
		Code string `json:"code"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Code == "" || len(in.Code) > 256 {
		return events.Invalid("code", "the wx.login code is required")
	}
	oid, err := h.cfg.WeChat.OpenID(c.UserContext(), in.Code)
	if err != nil {
		return err
	}
	p := h.cfg.Accounts.SignIn(oid)
	if h.cfg.Contacts != nil {
		if err := h.cfg.Contacts.Remember(c.UserContext(), p.Subject, oid); err != nil {
			return &events.Error{Code: events.CodeUnavailable, Message: "cannot sign in now", Err: err}
		}
	}
	return h.session(c, p)
}

func (h *handlers) bindStaff(c *fiber.Ctx) error {
	var in struct {
		Code       string `json:"code"`
		InviteCode string `json:"invite_code"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	if in.Code == "" || len(in.Code) > 256 {
		return events.Invalid("code", "the wx.login code is required")
	}
	if in.InviteCode == "" || len(in.InviteCode) > 64 {
		return events.Invalid("invite_code", "the invite code is required")
	}
	oid, err := h.cfg.WeChat.OpenID(c.UserContext(), in.Code)
	if err != nil {
		return err
	}
	p, err := h.cfg.Accounts.BindStaff(c.UserContext(), oid, in.InviteCode)
	if err != nil {
		return err
	}
	if h.cfg.Contacts != nil { // staff are notified too (alerts)
		if err := h.cfg.Contacts.Remember(c.UserContext(), p.Subject, oid); err != nil {
			return &events.Error{Code: events.CodeUnavailable, Message: "cannot sign in now", Err: err}
		}
	}
	return h.session(c, p)
}

func (h *handlers) me(c *fiber.Ctx) error {
	p := principal(c)
	return c.JSON(fiber.Map{"subject": p.Subject, "role": p.Role, "scope": p.Scope})
}

func (h *handlers) household(c *fiber.Ctx) error {
	hh, err := h.cfg.Accounts.Household(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(hh)
}

func (h *handlers) register(c *fiber.Ctx) error {
	var in accounts.RegisterInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.checkText(c, map[string]string{"building": in.Building, "unit": in.Unit}); err != nil {
		return err
	}
	for i := range in.Members {
		m := &in.Members[i]
		if m.Phone == "" && m.PhoneCode != "" {
			phone, err := h.cfg.WeChat.PhoneNumber(c.UserContext(), m.PhoneCode)
			if err != nil {
				return err
			}
			m.Phone, m.PhoneCode = phone, ""
		}
	}
	hh, err := h.cfg.Accounts.Register(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	// Sign in again with the community as scope.
	p := principal(c)
	p.Scope = hh.Community
	tok, exp, err := h.cfg.Sessions.Issue(p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"household": hh, "session": Session{Token: tok, ExpiresAt: exp, Role: p.Role, Subject: p.Subject, Scope: p.Scope, Registered: true}})
}

func (h *handlers) erase(c *fiber.Ctx) error {
	if err := h.cfg.Accounts.Erase(c.UserContext(), principal(c)); err != nil {
		return err
	}
	if h.cfg.Contacts != nil {
		if err := h.cfg.Contacts.Forget(c.UserContext(), principal(c).Subject); err != nil {
			return &events.Error{Code: events.CodeUnavailable, Message: "your data is erased; removing your WeChat id failed, retry", Err: err}
		}
	}
	return c.JSON(fiber.Map{"erased": true})
}

func (h *handlers) declare(c *fiber.Ctx) error {
	var in passes.DeclareInput
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := h.cfg.Passes.Declare(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return created(c, r)
}

func (h *handlers) pass(c *fiber.Ctx) error {
	t, err := h.cfg.Passes.Pass(c.UserContext(), principal(c), c.Params("person"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(t)
}

// revokePass revokes a member's pass when the phone showing it was lost.
func (h *handlers) revokePass(c *fiber.Ctx) error {
	if err := h.cfg.Passes.RevokePass(c.UserContext(), principal(c), c.Params("person")); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"revoked": true})
}

func (h *handlers) registerGate(c *fiber.Ctx) error {
	var in passes.GateInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.checkText(c, map[string]string{"name": in.Name}); err != nil {
		return err
	}
	g, err := h.cfg.Passes.RegisterGate(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return created(c, fiber.Map{"id": g.ID, "community": g.Community, "name": g.Name})
}

// gateCode serves the mini-program code residents scan for self check-in:
// scene = the gate id, page = the check-in page.
func (h *handlers) gateCode(c *fiber.Ctx) error {
	g, err := h.cfg.Passes.ManagedGate(c.UserContext(), principal(c), c.Params("gate"))
	if err != nil {
		return err
	}
	png, err := h.cfg.WeChat.GateCode(c.UserContext(), g.ID, "pages/checkin/index")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(png)
}

// scan answers 200 for an allowed scan and 403 with the decision and its
// reason for a denied one; either way the scan is recorded.
func (h *handlers) scan(c *fiber.Ctx) error {
	var in passes.ScanInput
	if err := decode(c, &in); err != nil {
		return err
	}
	r, err := h.cfg.Passes.Scan(c.UserContext(), principal(c), in)
	if errors.Is(err, events.ErrDuplicate) {
		return c.Status(fiber.StatusConflict).JSON(fiber.Map{"scan": r, "error": errorDetail{Code: events.CodeDuplicate, Field: "scan_id", Message: "this scan id was already recorded"}})
	}
	if err != nil {
		return err
	}
	if r.Decision != "allow" {
		return c.Status(fiber.StatusForbidden).JSON(fiber.Map{"scan": r, "error": errorDetail{Code: events.CodeForbidden, Field: "token", Message: "pass denied: " + r.Reason}})
	}
	return c.JSON(fiber.Map{"scan": r})
}

func (h *handlers) scanBatch(c *fiber.Ctx) error {
	var in struct {
		Scans []passes.ScanInput `json:"scans"`
	}
	if err := decode(c, &in); err != nil {
		return err
	}
	out, err := h.cfg.Passes.ScanBatch(c.UserContext(), principal(c), in.Scans)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"results": out})
}

func (h *handlers) addStaff(c *fiber.Ctx) error {
	var in accounts.StaffInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.checkText(c, map[string]string{"label": in.Label}); err != nil {
		return err
	}
	ns, err := h.cfg.Accounts.AddStaff(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return created(c, ns)
}

func (h *handlers) disableStaff(c *fiber.Ctx) error {
	var in accounts.DisableInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.cfg.Accounts.DisableStaff(c.UserContext(), principal(c), c.Params("staff"), in); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"staff": c.Params("staff"), "disabled": true})
}

func (h *handlers) confirmTransfer(c *fiber.Ctx) error {
	var in accounts.TransferInput
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := h.cfg.Accounts.ConfirmTransfer(c.UserContext(), principal(c), in); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"transferred": true, "to": in.To})
}

func (h *handlers) signOutEverywhere(c *fiber.Ctx) error {
	if err := h.cfg.Accounts.SignOutEverywhere(c.UserContext(), principal(c)); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"signed_out": true})
}

func (h *handlers) passKeys(c *fiber.Ctx) error {
	b, err := h.cfg.PassKeys.KeysJSON()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// revocations serves the signed revocation list. Scanners poll it: with
// the entity tag of the list they hold in If-None-Match they get 304 and no
// body until the list changes. no-cache makes every cache ask again.
func (h *handlers) revocations(c *fiber.Ctx) error {
	b, etag, err := h.cfg.PassKeys.Revocations(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// etagMatches reports whether an If-None-Match header names etag, by the
// weak comparison that RFC 9110 §13.1.2 prescribes for it ("*" matches any).
func etagMatches(ifNoneMatch, etag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}
