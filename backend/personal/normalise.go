package personal

// narrow folds full-width ASCII variants (U+FF01–U+FF5E, as Chinese input
// methods produce them: "１３８", "Ｘ") and the ideographic space to their
// ASCII forms, so that numbers typed either way parse the same.
func narrow(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFEE0
	case r == 0x3000:
		return ' '
	}
	return r
}

// narrowString applies narrow to every rune of s.
func narrowString(s string) string {
	for _, r := range s {
		if narrow(r) != r {
			b := make([]rune, 0, len(s))
			for _, r := range s {
				b = append(b, narrow(r))
			}
			return string(b)
		}
	}
	return s
}
