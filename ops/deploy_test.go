package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"

	"github.com/onebook/onebook/backend/config"
)

// TestDeployManifests parses every manifest under deploy/ and checks that
// each environment variable it gives onebook is a setting onebook knows
// (config.Vars), that every image is pinned to a version, and that the NATS
// cluster runs the server version onebook embeds and tests against, with
// three replicas and an fsync before every acknowledgement.
func TestDeployManifests(t *testing.T) {
	known := map[string]bool{}
	for _, v := range config.Vars() {
		known[v.Env] = true
	}
	natsVersion := embeddedNATSVersion(t)
	pinned := regexp.MustCompile(`^[^:@\s]+(:[0-9][0-9A-Za-z.\-]*|@sha256:[0-9a-f]{64})$`)
	files := 0
	err := filepath.WalkDir("../deploy", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		files++
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for doc := 0; ; doc++ {
			var v any
			if err := dec.Decode(&v); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s document %d: %v", path, doc, err)
			}
			walkYAML(v, func(key string, val any, parent map[string]any) {
				switch key {
				case "image":
					switch img := val.(type) {
					case string:
						if !pinned.MatchString(img) || strings.HasSuffix(img, ":latest") {
							t.Errorf("%s: image %q is not pinned to a version", path, img)
						}
					case map[string]any: // Helm values: repository and tag
						tag, _ := img["tag"].(string)
						if !regexp.MustCompile(`^[0-9][0-9A-Za-z.\-]*$`).MatchString(tag) {
							t.Errorf("%s: image %v is not pinned to a version", path, img)
						}
					}
				case "env":
					list, _ := val.([]any)
					for _, e := range list {
						name, _ := e.(map[string]any)["name"].(string)
						if container(parent) && !known[name] && !strings.HasPrefix(name, "MONGO_INITDB_") && !strings.HasPrefix(name, "MONGO_ROOT_") {
							t.Errorf("%s: env %s is no setting of onebook's (config.Vars)", path, name)
						}
					}
				}
			})
			if m, ok := v.(map[string]any); ok && m["kind"] == "Secret" && m["metadata"].(map[string]any)["name"] == "onebook-env" {
				for name := range m["stringData"].(map[string]any) {
					if !known[name] {
						t.Errorf("%s: secret onebook-env sets %s, no setting of onebook's", path, name)
					}
				}
			}
		}
		if strings.HasSuffix(path, filepath.Join("nats", "values.yaml")) {
			s := string(raw)
			for _, want := range []string{"replicas: 3", "sync_interval: always", "tag: " + natsVersion + "-alpine"} {
				if !strings.Contains(s, want) {
					t.Errorf("%s: want %q (the embedded server is nats-server %s)", path, want, natsVersion)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 4 {
		t.Fatalf("%d manifests under deploy/", files)
	}
}

// container reports whether m is a container of onebook's (its image is
// onebook's backend), whose env must be onebook's settings.
func container(m map[string]any) bool {
	img, _ := m["image"].(string)
	return strings.Contains(img, "onebook/backend")
}

// walkYAML calls fn for every key of every mapping in v, with its parent.
func walkYAML(v any, fn func(key string, val any, parent map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			fn(k, val, x)
			walkYAML(val, fn)
		}
	case []any:
		for _, val := range x {
			walkYAML(val, fn)
		}
	}
}

// embeddedNATSVersion is the nats-server version in go.mod, without its v.
func embeddedNATSVersion(t *testing.T) string {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == "github.com/nats-io/nats-server/v2" {
			return strings.TrimPrefix(r.Mod.Version, "v")
		}
	}
	t.Fatal("go.mod requires no nats-server")
	return ""
}
