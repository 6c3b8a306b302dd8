package personal

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// The seed corpora are in testdata/fuzz.

func FuzzParseIDNumber(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseIDNumber(s, now)
		if err != nil {
			if id != (IDNumber{}) {
				t.Fatalf("error %v with a value", err)
			}
			if in := strings.TrimSpace(s); len(in) > 6 && strings.Contains(err.Error(), in) {
				t.Fatalf("error repeats the input: %v", err)
			}
			return
		}
		v := id.Value()
		if len(v) != 18 || v != strings.ToUpper(v) {
			t.Fatalf("Value %q is not 18 normalised characters", v)
		}
		again, err := parseIDNumber(v, now)
		if err != nil || again != id {
			t.Fatalf("the normalised form does not parse to itself: %v", err)
		}
		if b := id.Birth(); b.Year() < 1900 || b.After(now) || b.Format("20060102") != v[6:14] {
			t.Fatalf("birth %v of %s", b, v)
		}
		if id.Region() != v[:6] || id.Last4() != v[14:] {
			t.Fatalf("region %s, last 4 %s of %s", id.Region(), id.Last4(), v)
		}
		if m := MaskID(v); m != v[:6]+"********"+v[14:] || id.String() != m {
			t.Fatalf("mask %s of %s", m, v)
		}
	})
}

func FuzzParsePhone(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePhone(s)
		if err != nil {
			if p != (Phone{}) {
				t.Fatalf("error %v with a value", err)
			}
			return
		}
		v := p.Value()
		if len(v) != 11 || v[0] != '1' || v[1] < '3' || strings.Trim(v, "0123456789") != "" {
			t.Fatalf("Value %q is not a mobile number", v)
		}
		if again, err := ParsePhone(v); err != nil || again != p {
			t.Fatalf("the normalised form does not parse to itself: %v", err)
		}
		if m := MaskPhone(s); m != v[:3]+"****"+v[7:] || p.String() != m {
			t.Fatalf("mask %s of %s", m, v)
		}
	})
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"张三", " 阿沛•阿旺晋美 ", "John  Smith", "张\u202e三", "***", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			return
		}
		v := n.Value()
		if c := utf8.RuneCountInString(v); !utf8.ValidString(v) || c < 1 || c > maxNameRunes || strings.TrimSpace(v) != v {
			t.Fatalf("Value %q", v)
		}
		if again, err := ParseName(v); err != nil || again != n {
			t.Fatalf("the normalised form %q does not parse to itself: %v", v, err)
		}
		if m := MaskName(v); m == v && utf8.RuneCountInString(v) > 1 {
			t.Fatalf("mask of %q shows it all", v)
		}
	})
}
