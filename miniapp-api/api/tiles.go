package api

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/seal"
)

// Tiles is what the C2SP tlog-tiles routes read besides the ledger.
type Tiles interface {
	ReadTiles(ctx context.Context, tiles []tlog.Tile) ([][]byte, error)
}

// tileRoutes serve the log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles),
// so that an off-the-shelf client (tessera's fsck, torchwood) can fetch
// and verify the whole log with only the verifier key.
func (h *handlers) tileRoutes(app *fiber.App) {
	app.Get("/checkpoint", h.latestCheckpoint)
	app.Get("/tile/*", h.tile)
}

// latestCheckpoint serves the latest signed checkpoint, cosigned.
func (h *handlers) latestCheckpoint(c *fiber.Ctx) error {
	c.Request().URI().QueryArgs().Del("size")
	return h.checkpoint(c)
}

// Full tiles and bundles never change: a year, immutable. A partial one of
// a given width never changes either, but is superseded as the tree grows.
const (
	cacheFull    = "public, max-age=31536000, immutable"
	cachePartial = "public, max-age=60"
)

func (h *handlers) tile(c *fiber.Ctx) error {
	p, err := seal.ParseTilePath(c.Params("*"))
	if err != nil {
		return events.Invalid("path", "%v", err)
	}
	ctx := c.UserContext()
	_, size, _, err := h.cfg.Ledger.Latest(ctx)
	if err != nil {
		return err
	}
	if !p.Within(size) {
		return events.Errorf(events.CodeNotFound, "tile %s is beyond the latest checkpoint (size %d)", c.Params("*"), size)
	}
	var body []byte
	if p.Entries {
		body, err = h.bundles.Read(ctx, p.Tile)
	} else if h.cfg.Tiles == nil {
		return events.Errorf(events.CodeNotFound, "hash tiles are not served here")
	} else {
		var data [][]byte
		if data, err = h.cfg.Tiles.ReadTiles(ctx, []tlog.Tile{p.Tile}); err == nil {
			body = data[0]
		}
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
	if p.Full() {
		c.Set(fiber.HeaderCacheControl, cacheFull)
	} else {
		c.Set(fiber.HeaderCacheControl, cachePartial)
	}
	return c.Send(body)
}
