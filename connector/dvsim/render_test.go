package dvsim

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// The hand-written time texts equal time.Time.AppendFormat's, at every
// hour of the day, month starts and ends, and random stamps.
func TestTimeTexts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	stamps := []uint32{0, 1, 59, 3599, 43199, 43200, 86399, 86400, ^uint32(0)}
	for h := range 24 {
		stamps = append(stamps, uint32(9000*86400+h*3600+h*61))
	}
	for range 20000 {
		stamps = append(stamps, rng.Uint32())
	}
	for _, s := range stamps {
		tm := fromStamp(s)
		quoted := func(layout string) string { return `"` + tm.Format(layout) + `"` }
		require.Equal(t, quoted("2006-01-02T15:04:05Z"), string(appendTime(nil, s)), "stamp %d", s)
		require.Equal(t, quoted("2006-01-02"), string(appendDate(nil, s)), "stamp %d", s)
		require.Equal(t, quoted("1/2/2006 3:04 PM"), string(appendTimeFormatted(nil, s, false)), "stamp %d", s)
		require.Equal(t, quoted("1/2/2006"), string(appendTimeFormatted(nil, s, true)), "stamp %d", s)
	}
}

// appendJSONString writes valid JSON that decodes to the text, with
// invalid UTF-8 as U+FFFD, for plain texts and every kind of escape at
// every position.
func TestJSONStrings(t *testing.T) {
	texts := []string{"", "plain text", `quo"te`, `back\slash`, "tab\there", "nl\n", "cr\r", "nul\x00", "\x1f", "é ü 日本", "bad \xff utf8", "\xc3"}
	for _, base := range []string{"a", "abc"} {
		for _, special := range []string{`"`, `\`, "\n", "\x01", "é", "\xff"} {
			for pos := 0; pos <= len(base); pos++ {
				texts = append(texts, base[:pos]+special+base[pos:])
			}
		}
	}
	for _, text := range texts {
		out := appendJSONString([]byte("x"), []byte(text))
		require.Equal(t, byte('x'), out[0])
		var got string
		require.NoError(t, json.Unmarshal(out[1:], &got), "text %q gave %s", text, out[1:])
		want := []rune{}
		for i := 0; i < len(text); {
			r, size := utf8.DecodeRuneInString(text[i:])
			want = append(want, r)
			i += size
		}
		require.Equal(t, string(want), got, "text %s", strconv.Quote(text))
	}
}
