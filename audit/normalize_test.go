package audit

import (
	"math"
	"testing"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Müller":              "mueller",
		"MÜLLER":              "mueller",
		"Straße":              "strasse",
		"José Núñez":          "jose nunez",
		"Mu\u0308ller":        "mueller", // decomposed umlaut
		"  O'Brien-Smith ":    "o brien smith",
		"Łódź":                "lodz",
		"Ærø":                 "aero",
		"Köln  Düsseldorf 12": "koeln duesseldorf 12",
		"":                    "",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct{ in, country, want string }{
		{"+49 (69) 303 03 03", "49", "49693030303"},
		{"069 3030303", "49", "49693030303"},
		{"+49 (0)69 3030303", "49", "49693030303"},
		{"0049 69 3030303", "49", "49693030303"},
		{"069/3030303", "49", "49693030303"},
		{"(069) 303 03 03", "49", "49693030303"},
		{"+49-69-3030303", "49", "49693030303"},
		{"01 234567", "43", "431234567"},
		{"+41 44 123 45 67", "49", "41441234567"},
		{"12", "49", ""},
		{"+49 30 12ab", "49", ""},
		{"   ", "49", ""},
	} {
		if got := NormalizePhone(tc.in, tc.country); got != tc.want {
			t.Errorf("NormalizePhone(%q, %s) = %q, want %q", tc.in, tc.country, got, tc.want)
		}
	}
}

func TestNormalizeCompany(t *testing.T) {
	for in, want := range map[string]string{
		"Contoso GmbH & Co. KG":    "contoso",
		"CONTOSO":                  "contoso",
		"Müller Logistik G.m.b.H.": "mueller logistik",
		"Müller Logistik Gesellschaft mit beschränkter Haftung": "mueller logistik",
		"Fabrikam, Inc.":                   "fabrikam",
		"Acme Ltd.":                        "acme",
		"Nordwind UG (haftungsbeschränkt)": "nordwind",
		"Schmidt & Söhne KG":               "schmidt soehne",
		"Verein der Freunde e.V.":          "verein der freunde",
		"Alpha Beta S.r.l.":                "alpha beta",
		"AG":                               "ag",
	} {
		if got := NormalizeCompany(in); got != want {
			t.Errorf("NormalizeCompany(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{"Dr. Anna": "anna", "Prof. Dr.-Ing. Jürgen": "juergen", "Frau Dörte": "doerte", "Dr.": "dr", "Drake": "drake", "Mary Ann": "mary ann"} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeEmailAndWebsite(t *testing.T) {
	for in, want := range map[string]string{" A.B+news@X.COM ": "a.b+news@x.com", "a@": "", "a.b": "", "a b@x.com": "", "a@b@x.com": ""} {
		if got := NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"https://www.Contoso.com/de/": "contoso.com", "contoso.com": "contoso.com", "http://shop.contoso.com:8080?x": "shop.contoso.com", "n/a": ""} {
		if got := NormalizeWebsite(in); got != want {
			t.Errorf("NormalizeWebsite(%q) = %q, want %q", in, got, want)
		}
	}
}

// Examples from Postel's rules as Wikipedia (de, "Kölner Phonetik") works them.
func TestKoelner(t *testing.T) {
	for in, want := range map[string]string{
		"Müller-Lüdenscheidt": "65752682",
		"Wikipedia":           "3412",
		"Breschnew":           "17863",
		"Meier":               "67",
		"Mayer":               "67",
		"Maier":               "67",
		"Meyer":               "67",
		"Xaver":               "4837",
		"Christoph":           "47823",
		"":                    "",
	} {
		if got := Koelner(in); got != want {
			t.Errorf("Koelner(%q) = %q, want %q", in, got, want)
		}
	}
	if Koelner("Müller") != Koelner("Mueller") || Koelner("Schmidt") != Koelner("Schmitt") {
		t.Error("Müller/Mueller or Schmidt/Schmitt differ")
	}
	if Koelner("Weber") == Koelner("Becker") {
		t.Error("Weber and Becker share a code")
	}
}

func TestJaroWinklerAndEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"MARTHA", "MARHTA", 0.9611}, {"DWAYNE", "DUANE", 0.84}, {"DIXON", "DICKSONX", 0.8133}, {"", "", 1}, {"a", "", 0},
		{"müller", "müler", JaroWinkler("mxller", "mxler")}, // runes, not bytes
	} {
		if got := JaroWinkler(tc.a, tc.b); math.Abs(got-tc.want) > 0.0005 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.4f", tc.a, tc.b, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b        string
		limit, want int
	}{
		{"jhon", "john", -1, 1}, {"kitten", "sitting", -1, 3}, {"ca", "abc", -1, 3}, {"", "abc", -1, 3},
		{"abcdef", "uvwxyz", 2, 3}, {"Straße", "Strasse", -1, 2}, {"same", "same", 0, 0},
	} {
		if got := EditDistance(tc.a, tc.b, tc.limit); got != tc.want {
			t.Errorf("EditDistance(%q, %q, %d) = %d, want %d", tc.a, tc.b, tc.limit, got, tc.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	truth := [][]string{{"a", "b", "c"}, {"d", "e"}}
	found := [][]string{{"a", "b"}, {"c", "x"}, {"d", "e"}}
	m := Evaluate(found, truth)
	if m.TruePairs != 4 || m.FoundPairs != 3 || m.CorrectPairs != 2 {
		t.Fatalf("pairs: %+v", m)
	}
	if math.Abs(m.Precision-2.0/3) > 1e-9 || math.Abs(m.Recall-0.5) > 1e-9 || math.Abs(m.F1-4.0/7) > 1e-9 {
		t.Fatalf("metrics: %+v", m)
	}
}
