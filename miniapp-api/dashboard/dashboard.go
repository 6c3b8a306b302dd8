// Package dashboard holds the staff dashboard, a web page the backend
// serves at /dashboard for government and CDC staff: entries per day by
// community, flows between districts, cases per symptom group with their
// alerts, material stock and consumption, the ledger's status and the
// exports. It is plain HTML, CSS and JavaScript with no build step; the
// charts are drawn by Apache ECharts, vendored under assets/ (see
// assets/README.md), so the page works offline. Every figure comes from the
// HTTP API with the signed-in staff member's session token.
package dashboard

import (
	"crypto/sha256"
	"embed"
	"io/fs"
	"path"
	"sync"
)

//go:embed index.html assets
var files embed.FS

// A File is one embedded file of the dashboard.
type File struct {
	Data        []byte
	ContentType string
	SHA256      [sha256.Size]byte
}

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
	".md":   "text/plain; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// all is every embedded file by name, with its type and hash, read once.
var all = sync.OnceValue(func() map[string]File {
	out := map[string]File{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		ct, ok := types[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		out[name] = File{Data: b, ContentType: ct, SHA256: sha256.Sum256(b)}
		return nil
	})
	if err != nil {
		panic(err) // embedded files are always readable
	}
	return out
})

// Open returns the file at name ("index.html", "assets/app.js", ...); ok is
// false if there is none.
func Open(name string) (File, bool) {
	f, ok := all()[name]
	return f, ok
}
