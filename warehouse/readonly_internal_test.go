package warehouse

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLex pins the tokenizer to ClickHouse's lexer on the forms where a
// difference would let a check read a statement otherwise than the engine.
func TestLex(t *testing.T) {
	type tok struct {
		kind tokenKind
		text string
	}
	cases := []struct {
		in   string
		want []tok
	}{
		{"SELECT 1", []tok{{tokWord, "SELECT"}, {tokNumber, "1"}}},
		{"0x1Fp3 1_000 1e-3, .5 0b101 0xg", []tok{{tokNumber, "0x1Fp3"}, {tokNumber, "1_000"}, {tokNumber, "1e-3"}, {tokPunct, ","}, {tokNumber, ".5"}, {tokNumber, "0b101"}, {tokWord, "0xg"}}},
		{"1 .5", []tok{{tokNumber, "1"}, {tokPunct, "."}, {tokNumber, "5"}}}, // after a number, a dot is tuple access
		{"x.1.2", []tok{{tokWord, "x"}, {tokPunct, "."}, {tokNumber, "1"}, {tokPunct, "."}, {tokNumber, "2"}}},
		{"1file(", []tok{{tokWord, "1file"}, {tokPunct, "("}}},
		{"SELECT .5file", []tok{{tokWord, "SELECT"}, {tokPunct, "."}, {tokWord, "5file"}}},
		{"'it''s \\' -- /*' x", []tok{{tokString, "'it''s \\' -- /*'"}, {tokWord, "x"}}},
		{"`a``b` \"c\\\"d\"", []tok{{tokQuoted, "`a``b`"}, {tokQuoted, `"c\"d"`}}},
		{"$$ it's $$ $t$ a $ b $t$ $x", []tok{{tokString, "$$ it's $$"}, {tokString, "$t$ a $ b $t$"}, {tokWord, "$x"}}},
		{"x'4A' b'01' x", []tok{{tokString, "x'4A'"}, {tokString, "b'01'"}, {tokWord, "x"}}},
		{"a -- c\nb // c\nc # c\nd #!c\ne /* c */ f", []tok{{tokWord, "a"}, {tokWord, "b"}, {tokWord, "c"}, {tokWord, "d"}, {tokWord, "e"}, {tokWord, "f"}}},
		{"a<=>b->c::d||e!=f<>g==h", []tok{{tokWord, "a"}, {tokPunct, "<=>"}, {tokWord, "b"}, {tokPunct, "->"}, {tokWord, "c"}, {tokPunct, "::"}, {tokWord, "d"}, {tokPunct, "||"}, {tokWord, "e"}, {tokPunct, "!="}, {tokWord, "f"}, {tokPunct, "<>"}, {tokWord, "g"}, {tokPunct, "=="}, {tokWord, "h"}}},
		{"\t\f\v\r\n", nil},
	}
	for _, c := range cases {
		toks, err := lex(c.in)
		require.NoError(t, err, c.in)
		var got []tok
		for _, x := range toks {
			got = append(got, tok{x.kind, x.text})
		}
		assert.Equal(t, c.want, got, c.in)
	}
	names, err := lex("`a``b` \"x\\\\y\" `s\\`t`")
	require.NoError(t, err)
	assert.Equal(t, []string{"a`b", `x\y`, "s`t"}, []string{names[0].name, names[1].name, names[2].name})

	for in, reason := range map[string]string{
		"SELECT 'x":                  "unterminated string",
		"SELECT `x":                  "unterminated quoted name",
		"SELECT /* x":                "unterminated comment",
		"SELECT /* a /* b */ c */":   "a comment inside a comment",
		"SELECT #x":                  "unexpected character",
		"SELECT “x”":                 "outside ASCII",
		"SELECT\u00a01":              "outside ASCII",
		"SELECT 1 \\G":               "unexpected character",
		"SELECT `a\nb`":              "could forge EXPLAIN AST output",
		"SELECT 1 AS `x (alias y)`":  "could forge EXPLAIN AST output",
		"SELECT `s\\x79stem`.one":    "escape sequence",
		"SELECT 1.5e3x":              "malformed number",
		"SELECT x'4G'":               "malformed hexadecimal",
		"SELECT $":                   "unexpected $",
		"SELECT !1":                  "unexpected character",
		"SELECT 1 & 2":               "unexpected character",
		"SELECT \x00":                "unexpected character",
		strings.Repeat(" ", 1<<20+1): "longer than",
	} {
		_, err := lex(in)
		require.Error(t, err, "%q", in)
		assert.Contains(t, err.Error(), reason, "%q", in)
	}
}

func TestFunctionRefusal(t *testing.T) {
	for _, name := range []string{"sum", "sumIf", "countIf", "uniqArrayIf", "avgOrNullIf", "quantile", "argMax",
		"lower", "LOWER", "toString", "arrayMap", "lambda", "grouping", "exists", "format", "replaceAll", "replace",
		"countMergeState", "groupArray", "sumMap", "CAST", "version", "currentDatabase"} {
		assert.Empty(t, functionRefusal(name), name)
	}
	for name, reason := range map[string]string{
		"file": "reads files", "FILE": "reads files", "user": "about the server", "currentUser": "about the server",
		"dictGetString": "dictionary", "joinGet": "outside the warehouse", "flameGraphIf": "process",
		"__getScalar": "internal", "frobnicate": "not a function Ampel knows", "1file": "not a function Ampel knows",
		"sleepEachRow": "process", "AIGenerate": "other servers", "hostname": "about the server",
		"getSetting": "settings", "fileIf": "reads files",
	} {
		assert.Contains(t, functionRefusal(name), reason, name)
	}
}

// TestSyntaxWordsAreNotDenied: a word that ( may follow without a call is
// never checked as a function, so none may be a denied one.
func TestSyntaxWordsAreNotDenied(t *testing.T) {
	for w := range syntaxWords {
		assert.Empty(t, deniedReason(strings.ToLower(w)), w)
	}
	for w := range typeFamilies {
		assert.Empty(t, deniedReason(w), w)
	}
}

// TestDeniedFunctionsExist: every denied name is a function of an engine,
// so that a typo does not leave the real one allowed.
func TestDeniedFunctionsExist(t *testing.T) {
	for name := range deniedFunctions {
		_, ok := knownFunctions()[name]
		assert.True(t, ok, name)
	}
}

func TestTrimStatement(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                   "SELECT 1",
		"SELECT 1; -- done\n":        "SELECT 1",
		"SELECT ';' /* ; */ ;  ":     "SELECT ';'",
		"SELECT 1 -- no semicolon":   "SELECT 1",
		" ; ":                        "",
		"SELECT 'unterminated; -- x": "SELECT 'unterminated; -- x",
	} {
		assert.Equal(t, want, TrimStatement(in), "%q", in)
	}
}
