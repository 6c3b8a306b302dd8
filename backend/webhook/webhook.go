// Package webhook posts JSON documents to a configured URL: the outbound
// HTTP of onebook's services (alerts), given to them by the wiring so that
// no domain package speaks HTTP itself.
package webhook

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"
)

// Poster posts to one URL.
type Poster struct {
	URL    string
	Client *http.Client // nil: a client with a 10 s timeout
	// Timeout bounds one post; 0: 5 s.
	Timeout time.Duration
}

// Post sends body as a JSON POST; any answer but 2xx is a failure.
func (w Poster) Post(ctx context.Context, body []byte) error {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
