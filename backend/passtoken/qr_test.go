package passtoken

import (
	"testing"
	"time"

	"rsc.io/qr"
	"rsc.io/qr/coding"
)

// maxQRVersion is the largest QR code a pass may need (issue 4): version 10
// is 57×57 modules, which phone cameras read at arm's length.
const maxQRVersion = 10

// qrVersion is the version of a QR code of size modules on a side
// (ISO/IEC 18004 §5.3.1: size = 17 + 4·version).
func qrVersion(size int) int { return (size - 17) / 4 }

// TestQRVersion encodes real tokens with a QR encoder at error-correction
// level M and checks the version it needs. Every token of either format has
// the same length, so one answer holds for all of them.
func TestQRVersion(t *testing.T) {
	gen, err := GenerateSigner(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	vector, err := Issue(vectorSigner(t), vectorClaims())
	if err != nil {
		t.Fatal(err)
	}
	visitor, err := Issue(gen, Claims{TokenID: TokenID{0: 0xff, 15: 0xff}, Visitor: true, Community: "999999999999",
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32-1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tok string
	}{
		{"known-answer vector", vector},
		{"visitor, widest fields, generated key", visitor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := qr.Encode(tt.tok, qr.M)
			if err != nil {
				t.Fatal(err)
			}
			v := qrVersion(code.Size)
			if v > maxQRVersion {
				t.Fatalf("token of %d characters needs QR version %d at level M, want <= %d", len(tt.tok), v, maxQRVersion)
			}
			// The encoder picks the smallest version; check its choice
			// against the capacity table for byte mode.
			if bits := coding.String(tt.tok).Bits(coding.Version(v)); bits > coding.Version(v).DataBytes(coding.M)*8 {
				t.Fatalf("version %d holds %d data bits at level M, the token needs %d", v, coding.Version(v).DataBytes(coding.M)*8, bits)
			}
			if v > 1 {
				if bits := coding.String(tt.tok).Bits(coding.Version(v - 1)); bits <= coding.Version(v-1).DataBytes(coding.M)*8 {
					t.Fatalf("version %d would do", v-1)
				}
			}
			t.Logf("%d characters: QR version %d (%d×%d modules) at level M", len(tt.tok), v, code.Size, code.Size)
		})
	}
	// Level Q, for a community that wants more error correction.
	if code, err := qr.Encode(vector, qr.Q); err != nil || qrVersion(code.Size) > maxQRVersion {
		t.Errorf("level Q: %v, version %d", err, qrVersion(code.Size))
	}
}
