package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onebook/onebook/backend/auth"
)

// TestExportOverHTTP downloads export bundles through the API as a CDC
// reviewer, unzips them and verifies them offline with ops verify-export;
// refusals are checked too.
func TestExportOverHTTP(t *testing.T) {
	b := newBackend(t)
	b.start(false)
	base := "http://" + b.httpAddr
	admin := staffClient(t, b, auth.Admin, "11")
	hospital := registerHospital(t, admin, "导出测试医院", districtA+"001", true)
	reporter := orgStaffClient(t, b, auth.HospitalReporter, hospital)
	for i := range 3 {
		fileCard(t, reporter, i, card("influenza", districtA+"002", "fever", "cough"))
	}
	cdc := staffClient(t, b, auth.CDCReviewer, cityA)
	b.settled()

	var list struct {
		Views []struct{ Name string }
	}
	cdc.json("GET", "/exports", nil, 200, &list)
	if len(list.Views) < 10 {
		t.Fatalf("views %+v", list)
	}
	for _, tc := range []struct{ view, format string }{{"case_counts", "xlsx"}, {"case_cards", "csv"}} {
		code, body := cdc.do("GET", "/exports/"+tc.view+"?format="+tc.format+"&region="+cityA+"&reason=weekly+report", nil)
		if code != 200 {
			t.Fatalf("export %s: %d %s", tc.view, code, body)
		}
		dir := unzipBundle(t, body)
		code, out := ops(t, "verify-export", dir, "--key", filepath.Join(b.dir, "seal.key.pub"), "--url", base)
		if code != 0 || !strings.Contains(out, "ok   "+dir+": view "+tc.view) {
			t.Fatalf("verify-export %s (%d):\n%s", tc.view, code, out)
		}
	}
	resident := signIn(t, base, "export-resident")
	for _, tc := range []struct {
		c    client
		path string
		want int
	}{
		{resident, "/exports", 403},
		{cdc, "/exports/case_counts?region=12", 403},
		{cdc, "/exports/case_counts?format=pdf", 400},
		{cdc, "/exports/nothing", 404},
		{cdc, "/exports/case_counts?from=2026-12-01&to=2026-11-01", 400},
	} {
		if code, out := tc.c.do("GET", tc.path, nil); code != tc.want {
			t.Errorf("GET %s: %d %s, want %d", tc.path, code, out, tc.want)
		}
	}
}

// unzipBundle writes a zip's files into a fresh directory.
func unzipBundle(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	for _, f := range zr.File {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(path, dir+string(filepath.Separator)) {
			t.Fatalf("zip entry %q leaves the bundle", f.Name)
		}
		os.MkdirAll(filepath.Dir(path), 0o755)
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, data, 0o644)
	}
	return dir
}
