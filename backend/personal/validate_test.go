package personal

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onebook/onebook/events"
)

// now is the fixed clock of the ID number tests: 2026-07-01 12:00 in China.
var now = time.Date(2026, 7, 1, 12, 0, 0, 0, events.China())

// Check characters below were computed with an independent implementation
// of ISO 7064 MOD 11-2; the first two are the examples of GB 11643-1999.
func TestParseIDNumberValid(t *testing.T) {
	for _, tc := range []struct {
		in, want, region, birth, last4 string
	}{
		{"11010519491231002X", "11010519491231002X", "110105", "1949-12-31", "002X"},
		{"11010519491231002x", "11010519491231002X", "110105", "1949-12-31", "002X"},
		{" 11010519491231002X\t", "11010519491231002X", "110105", "1949-12-31", "002X"},
		{"１１０１０５１９４９１２３１００２ｘ", "11010519491231002X", "110105", "1949-12-31", "002X"},
		{"31011519900307283X", "31011519900307283X", "310115", "1990-03-07", "283X"},
		{"440306200002295117", "440306200002295117", "440306", "2000-02-29", "5117"}, // leap day
		{"650102198706110320", "650102198706110320", "650102", "1987-06-11", "0320"}, // check digit 0
		{"110105199001010002", "110105199001010002", "110105", "1990-01-01", "0002"},
		{"370202197511084568", "370202197511084568", "370202", "1975-11-08", "4568"},
		{"810000199507040127", "810000199507040127", "810000", "1995-07-04", "0127"}, // Hong Kong residence permit
		{"11010519000101001X", "11010519000101001X", "110105", "1900-01-01", "001X"}, // first allowed year
		{"11010520260701001X", "11010520260701001X", "110105", "2026-07-01", "001X"}, // born today
	} {
		id, err := parseIDNumber(tc.in, now)
		if err != nil {
			t.Errorf("ParseIDNumber(%q): %v", tc.in, err)
			continue
		}
		if id.Value() != tc.want || id.Region() != tc.region || id.Birth().Format(time.DateOnly) != tc.birth || id.Last4() != tc.last4 {
			t.Errorf("ParseIDNumber(%q) = %s %s %s %s, want %s %s %s %s", tc.in,
				id.Value(), id.Region(), id.Birth().Format(time.DateOnly), id.Last4(), tc.want, tc.region, tc.birth, tc.last4)
		}
		if b := id.Birth(); b.Location() != time.UTC || b.Hour() != 0 {
			t.Errorf("Birth() = %v, want midnight UTC", b)
		}
	}
}

func TestParseIDNumberInvalid(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"", "required"},
		{"   ", "required"},
		{"11010519491231002", "must have 18 characters, has 17"},
		{"11010519491231002X1", "must have 18 characters, has 19"},
		{"110105491231002", "has 15 characters: first-generation numbers are no longer valid"},
		{"11010519491231002Y", "the check character must be a digit or X"},
		{"1101051949123100X2", "character 17 is not a digit"},
		{"A10105194912310020", "character 1 is not a digit"},
		{"110105 19491231002", "character 7 is not a digit"},
		{"11010519491231002五", "the check character must be a digit or X"},
		{"110105194912310025", "check digit is 5, expected X"},
		{"11010519491231002 ", "has 17"},                         // trimmed first
		{"440524188001010014", "birth year 1880 is before 1900"}, // GB 11643 example, valid check digit
		{"110105189912310015", "birth year 1899 is before 1900"},
		{"110105190002290017", "birth date 1900-02-29 does not exist"}, // 1900 is no leap year
		{"11010519900230001X", "birth date 1990-02-30 does not exist"},
		{"110105199013010018", "birth date 1990-13-01 does not exist"},
		{"110105199001000015", "birth date 1990-01-00 does not exist"},
		{"110105202607020015", "birth date 2026-07-02 is in the future"},
		{"110108203001011230", "birth date 2030-01-01 is in the future"},
	} {
		_, err := parseIDNumber(tc.in, now)
		checkInvalid(t, "ParseIDNumber", tc.in, err, "id_number", tc.msg)
	}
}

// The birth date is compared with the calendar date in China, not UTC.
func TestParseIDNumberChinaDate(t *testing.T) {
	early := time.Date(2026, 6, 30, 20, 0, 0, 0, time.UTC) // 2026-07-01 04:00 in China
	if _, err := parseIDNumber("11010520260701001X", early); err != nil {
		t.Errorf("born on the day it is in China: %v", err)
	}
}

func TestParseIDNumberRealClock(t *testing.T) {
	if _, err := ParseIDNumber("11010519491231002X"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseIDNumber("11010520990101" + "0010"); err == nil {
		t.Fatal("a birth date in 2099 was accepted")
	}
}

// Printing an IDNumber, Phone or Name shows only its mask.
func TestTypesPrintMasked(t *testing.T) {
	id, _ := parseIDNumber("11010519491231002X", now)
	p, _ := ParsePhone("13812345678")
	n, _ := ParseName("欧阳娜娜")
	for _, s := range []string{
		fmt.Sprint(id, p, n), fmt.Sprintf("%v %+v %#v %s", id, p, n, id),
		fmt.Sprintf("%v", struct{ A IDNumber }{id}), fmt.Sprintf("%#v", []Phone{p}),
	} {
		if strings.Contains(s, "19491231") || strings.Contains(s, "1234") || strings.Contains(s, "阳娜") {
			t.Errorf("printed in clear: %s", s)
		}
	}
	if got := fmt.Sprint(id, " ", p, " ", n); got != "110105********002X 138****5678 欧***" {
		t.Errorf("Sprint = %q", got)
	}
	var zero IDNumber
	if zero.Region() != "" || !zero.Birth().IsZero() || zero.Last4() != "" || zero.String() != "" {
		t.Error("zero IDNumber is not empty")
	}
}

func TestParsePhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"13812345678", "13812345678"},
		{"19912345678", "19912345678"},
		{"+8613812345678", "13812345678"},
		{"+86 138 1234 5678", "13812345678"},
		{"+86-138-1234-5678", "13812345678"},
		{"8613812345678", "13812345678"},
		{"86 13812345678", "13812345678"},
		{"008613812345678", "13812345678"},
		{" 138-1234-5678 ", "13812345678"},
		{"１３８１２３４５６７８", "13812345678"},
		{"＋８６　１３８１２３４５６７８", "13812345678"},
	} {
		p, err := ParsePhone(tc.in)
		if err != nil {
			t.Errorf("ParsePhone(%q): %v", tc.in, err)
		} else if p.Value() != tc.want {
			t.Errorf("ParsePhone(%q) = %s, want %s", tc.in, p.Value(), tc.want)
		}
	}
	for _, tc := range []struct{ in, msg string }{
		{"", "required"},
		{" - ", "required"},
		{"1381234567", "must have 11 digits (a mainland mobile number), has 10"},
		{"138123456789", "must have 11 digits (a mainland mobile number), has 12"},
		{"12812345678", "starts with 13 to 19"},
		{"10012345678", "starts with 13 to 19"},
		{"23812345678", "starts with 13 to 19"},
		{"01012345678", "starts with 13 to 19"},
		{"+85261234567", "only mainland China (+86) mobile numbers are accepted"},
		{"+1 4155550123", "only mainland China (+86) mobile numbers are accepted"},
		{"138+12345678", "only mainland China (+86) mobile numbers are accepted"},
		{"(138)12345678", "may contain only digits, spaces, dashes and a +86 prefix"},
		{"138.1234.5678", "may contain only digits"},
		{"1381234567８x", "may contain only digits"},
		{"+86", "required"},
		{"+86 010 12345678", "starts with 13 to 19"},
		{"+86+8613812345678", "only mainland China (+86) mobile numbers are accepted"},
		{"861381234567", "must have 11 digits (a mainland mobile number), has 12"}, // 86 is a prefix only of 13 digits
	} {
		_, err := ParsePhone(tc.in)
		checkInvalid(t, "ParsePhone", tc.in, err, "phone", tc.msg)
	}
}

func TestParseName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"张三", "张三"},
		{"  欧阳娜娜　", "欧阳娜娜"},
		{"阿沛·阿旺晋美", "阿沛·阿旺晋美"},
		{"阿沛•阿旺晋美", "阿沛·阿旺晋美"},
		{"阿沛・阿旺晋美", "阿沛·阿旺晋美"},
		{"迪丽热巴·迪力木拉提", "迪丽热巴·迪力木拉提"},
		{"John  Smith", "John Smith"},
		{"Seán O'Brien-Ó Súilleabháin", "Seán O'Brien-Ó Súilleabháin"},
		{"李", "李"},
		{strings.Repeat("名", 64), strings.Repeat("名", 64)},
	} {
		n, err := ParseName(tc.in)
		if err != nil {
			t.Errorf("ParseName(%q): %v", tc.in, err)
		} else if n.Value() != tc.want {
			t.Errorf("ParseName(%q) = %q, want %q", tc.in, n.Value(), tc.want)
		}
	}
	for _, tc := range []struct{ in, msg string }{
		{"", "required"},
		{" \u3000 ", "required"},
		{strings.Repeat("名", 65), "has 65 characters, at most 64 allowed"},
		{"张\n三", "contains a control character (U+000A)"},
		{"张\t三", "contains a control character (U+0009)"},
		{"张\x00三", "contains a control character (U+0000)"},
		{"张\u202e三", "contains an invisible formatting character (U+202E)"},
		{"张\u200b三", "contains an invisible formatting character (U+200B)"},
		{"张*", "contains '*'; a masked name cannot be registered"},
		{"张3", "contains a digit"},
		{"···", "must contain a letter"},
		{"--", "must contain a letter"},
		{"张\xff三", "is not valid UTF-8"},
	} {
		_, err := ParseName(tc.in)
		checkInvalid(t, "ParseName", tc.in, err, "name", tc.msg)
	}
}

// checkInvalid checks that err is an *events.Error of code invalid for
// field whose message contains msg, and that it does not repeat the input.
func checkInvalid(t *testing.T, fn, in string, err error, field, msg string) {
	t.Helper()
	var e *events.Error
	switch {
	case err == nil:
		t.Errorf("%s(%q) accepted", fn, in)
	case !errors.As(err, &e) || e.Code != events.CodeInvalid || e.Field != field:
		t.Errorf("%s(%q) = %v, want an invalid error on field %s", fn, in, err, field)
	case !strings.Contains(e.Message, msg):
		t.Errorf("%s(%q) says %q, want %q", fn, in, e.Message, msg)
	case len(strings.TrimSpace(in)) > 4 && strings.Contains(e.Error(), strings.TrimSpace(in)):
		t.Errorf("%s(%q): error repeats the input: %v", fn, in, err)
	}
}

func TestMasks(t *testing.T) {
	for _, tc := range []struct {
		mask    func(string) string
		in, out string
	}{
		{MaskName, "张三", "张*"},
		{MaskName, "欧阳娜娜", "欧***"},
		{MaskName, "阿沛·阿旺晋美", "阿******"},
		{MaskName, "李", "*"},
		{MaskName, "John Smith", "J***"},
		{MaskName, "Jo", "J***"},
		{MaskName, "Алексей", "А***"},
		{MaskName, " 张三 ", "张*"},
		{MaskName, "", ""},
		{MaskName, "--", "***"},
		{MaskID, "110105194912311234", "110105********1234"},
		{MaskID, "11010519491231002X", "110105********002X"},
		{MaskID, "11010519491231002x", "110105********002X"},
		{MaskID, "110105491231123", "110105*****1123"}, // 15 digits
		{MaskID, "1101051234", "**********"},
		{MaskID, "12345678901", "123456*8901"},
		{MaskID, "", ""},
		{MaskPhone, "13812345678", "138****5678"},
		{MaskPhone, "+86 138-1234-5678", "138****5678"},
		{MaskPhone, "02112345678", "021****5678"},
		{MaskPhone, "1234567", "*******"},
		{MaskPhone, "12345678", "123*5678"},
		{MaskPhone, "", ""},
	} {
		if got := tc.mask(tc.in); got != tc.out {
			t.Errorf("mask(%q) = %q, want %q", tc.in, got, tc.out)
		}
	}
}
