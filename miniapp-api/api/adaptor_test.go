package api

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

// adaptorHandler lets net/http's httptest serve the Fiber app in tests.
func adaptorHandler(app *fiber.App) http.Handler { return adaptor.FiberApp(app) }
