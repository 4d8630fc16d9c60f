package audit

// Koelner returns the Kölner Phonetik code (Postel, 1969) of a name: the phonetic code made
// for German names, where Meier, Mayer, Maier and Meyer share one code (67) and Müller and
// Mueller too. Letters are taken after Fold, so umlauts count as their transliteration;
// digits and other characters are skipped. Rules:
//
//	A E I J O U Y → 0; H → –; B → 1; P → 1 (3 before H); D T → 2 (8 before C S Z);
//	F V W → 3; G K Q → 4; C → 4 at the start before A H K L O Q R U X, and elsewhere before
//	A H K O Q U X unless after S or Z, otherwise 8; X → 48 (8 after C K Q); L → 5;
//	M N → 6; R → 7; S Z → 8
//
// then repeated codes are collapsed and every 0 but a leading one is removed.
func Koelner(name string) string {
	s := Fold(name)
	var letters []byte
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			letters = append(letters, c)
		}
	}
	var raw []byte
	for i, c := range letters {
		var prev, next byte
		if i > 0 {
			prev = letters[i-1]
		}
		if i+1 < len(letters) {
			next = letters[i+1]
		}
		switch c {
		case 'a', 'e', 'i', 'j', 'o', 'u', 'y':
			raw = append(raw, '0')
		case 'h':
			raw = append(raw, '-')
		case 'b':
			raw = append(raw, '1')
		case 'p':
			if next == 'h' {
				raw = append(raw, '3')
			} else {
				raw = append(raw, '1')
			}
		case 'd', 't':
			if next == 'c' || next == 's' || next == 'z' {
				raw = append(raw, '8')
			} else {
				raw = append(raw, '2')
			}
		case 'f', 'v', 'w':
			raw = append(raw, '3')
		case 'g', 'k', 'q':
			raw = append(raw, '4')
		case 'c':
			switch {
			case i == 0 && in(next, "ahkloqrux"):
				raw = append(raw, '4')
			case i > 0 && in(next, "ahkoqux") && prev != 's' && prev != 'z':
				raw = append(raw, '4')
			default:
				raw = append(raw, '8')
			}
		case 'x':
			if prev == 'c' || prev == 'k' || prev == 'q' {
				raw = append(raw, '8')
			} else {
				raw = append(raw, '4', '8')
			}
		case 'l':
			raw = append(raw, '5')
		case 'm', 'n':
			raw = append(raw, '6')
		case 'r':
			raw = append(raw, '7')
		case 's', 'z':
			raw = append(raw, '8')
		}
	}
	var out []byte
	var last byte
	for i, c := range raw {
		if c == '-' {
			continue // H: no code, and does not separate repeats
		}
		if c == last {
			continue
		}
		last = c
		if c == '0' && i > 0 {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

func in(c byte, set string) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}
