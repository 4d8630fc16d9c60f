package warehouse

import (
	"fmt"
	"strings"
)

// tokenKind is the kind of a token of ClickHouse SQL.
type tokenKind int

const (
	tokWord   tokenKind = iota + 1 // a bare word: a keyword or an unquoted name
	tokQuoted                      // a quoted name: `name` or "name"
	tokString                      // a string: 'text', x'41', b'01' or a heredoc $tag$text$tag$
	tokNumber                      // a number
	tokPunct                       // an operator or punctuation: ( ) , . :: || …
)

// token is one significant token (whitespace and comments are dropped).
type token struct {
	kind tokenKind
	text string // the token as written
	pos  int    // byte offset in the statement
	name string // tokWord and tokQuoted: the name, unquoted and unescaped
}

// is reports whether t is the bare word kw (case-insensitive) or the
// punctuation kw.
func (t token) is(kw string) bool {
	switch t.kind {
	case tokWord:
		return strings.EqualFold(t.text, kw)
	case tokPunct:
		return t.text == kw
	}
	return false
}

// isName reports whether t names something: a bare word or a quoted name.
func (t token) isName() bool { return t.kind == tokWord || t.kind == tokQuoted }

// maxStatement is the longest statement the read-only check takes. The
// engines refuse statements past max_query_size (256 KiB by default) anyway.
const maxStatement = 1 << 20

// lexError is a statement the tokenizer cannot read, with the reason.
type lexError struct {
	pos    int
	reason string
}

func (e *lexError) Error() string { return fmt.Sprintf("%s at position %d", e.reason, e.pos+1) }

// lex splits a statement into its significant tokens the way ClickHouse
// 26.x's own SQL lexer does, so that what the read-only check sees is what
// the engine will parse. Where the engines
// Ampel supports read a text differently, lex refuses the text instead of
// guessing:
//
//   - a /* inside a block comment: ClickHouse 26.x nests block comments,
//     18.16 ends them at the first */;
//   - any byte outside ASCII outside quotes and comments: 26.x reads
//     ‘…’ as a string, “…” as a name and − as minus, 18.16 refuses them;
//   - control characters, "(alias " and "(children " in quoted names,
//     which would let a name forge EXPLAIN AST's output (see
//     CheckExplainAST).
//
// Strings follow ClickHouse's rules: a backslash escapes the next byte and
// a doubled quote is one quote. Comments are -- and // to the end of the
// line, # followed by a space or ! to the end of the line, and /* */.
func lex(s string) ([]token, error) {
	if len(s) > maxStatement {
		return nil, &lexError{pos: maxStatement, reason: fmt.Sprintf("statement longer than %d bytes", maxStatement)}
	}
	var toks []token
	prev := tokenKind(0) // kind of the previous significant token
	prevText := ""
	emit := func(kind tokenKind, start, end int, name string) {
		toks = append(toks, token{kind: kind, text: s[start:end], pos: start, name: name})
		prev, prevText = kind, s[start:end]
	}
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c >= '0' && c <= '9':
			i = lexNumber(s, i, prev == tokPunct && prevText == ".")
			if i < len(s) && isWordChar(s[i]) {
				// 1abc is a name to ClickHouse; 1.5abc is an error
				for i < len(s) && isWordChar(s[i]) {
					i++
				}
				for j := start; j < i; j++ {
					if !isWordChar(s[j]) && s[j] != '$' {
						return nil, &lexError{pos: start, reason: "malformed number " + quoteSnippet(s[start:i])}
					}
				}
				emit(tokWord, start, i, s[start:i])
				continue
			}
			emit(tokNumber, start, i, "")
		case c == '\'':
			end, ok := quotedEnd(s, i)
			if !ok {
				return nil, &lexError{pos: start, reason: "unterminated string"}
			}
			i = end
			emit(tokString, start, i, "")
		case c == '"' || c == '`':
			end, ok := quotedEnd(s, i)
			if !ok {
				return nil, &lexError{pos: start, reason: "unterminated quoted name"}
			}
			name, ok := quotedName(s[start:end])
			if !ok {
				return nil, &lexError{pos: start, reason: "an escape sequence in the quoted name " + quoteSnippet(s[start:end])}
			}
			if strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 ||
				strings.Contains(name, "(alias ") || strings.Contains(name, "(children ") {
				return nil, &lexError{pos: start, reason: "the quoted name " + quoteSnippet(s[start:end]) + " could forge EXPLAIN AST output (control characters, \"(alias \" or \"(children \")"}
			}
			i = end
			emit(tokQuoted, start, i, name)
		case strings.IndexByte("()[]{},;", c) >= 0:
			i++
			emit(tokPunct, start, i, "")
		case c == '.':
			numberFollows := i+1 < len(s) && isDigit(s[i+1])
			afterOperand := prev == tokWord || prev == tokQuoted || prev == tokNumber ||
				prev == tokPunct && (prevText == ")" || prevText == "]")
			if i > 0 && (!numberFollows || afterOperand) {
				i++
				emit(tokPunct, start, i, "")
				continue
			}
			i = lexFraction(s, i)
			emit(tokNumber, start, i, "")
		case c == '-' && i+1 < len(s) && s[i+1] == '-',
			c == '/' && i+1 < len(s) && s[i+1] == '/',
			c == '#' && i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '!'):
			if end := strings.IndexByte(s[i:], '\n'); end >= 0 {
				i += end
			} else {
				i = len(s)
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, &lexError{pos: start, reason: "unterminated comment"}
			}
			if strings.Contains(s[i+2:i+2+end], "/*") {
				return nil, &lexError{pos: start, reason: "a comment inside a comment (engines end such comments in different places)"}
			}
			i += 2 + end + 2
		case c == '$':
			if end, ok := heredocEnd(s, i); ok {
				i = end
				emit(tokString, start, i, "")
				continue
			}
			if i+1 == len(s) || !isWordChar(s[i+1]) {
				return nil, &lexError{pos: start, reason: "unexpected $"}
			}
			i = wordEnd(s, i)
			emit(tokWord, start, i, s[start:i])
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B') && i+2 < len(s) && s[i+1] == '\'':
			// x'4A' and b'0101': only hex digits or bits up to the quote
			j := i + 2
			for j < len(s) && (c == 'x' || c == 'X') && isHexDigit(s[j]) || j < len(s) && (c == 'b' || c == 'B') && (s[j] == '0' || s[j] == '1') {
				j++
			}
			if j >= len(s) || s[j] != '\'' {
				return nil, &lexError{pos: start, reason: "malformed hexadecimal or binary string"}
			}
			i = j + 1
			emit(tokString, start, i, "")
		case isWordChar(c):
			i = wordEnd(s, i)
			emit(tokWord, start, i, s[start:i])
		case c >= 0x80:
			return nil, &lexError{pos: start, reason: "a character outside ASCII outside quotes (write names and text in ASCII quotes)"}
		default:
			n := operatorLen(s[i:])
			if n == 0 {
				return nil, &lexError{pos: start, reason: "unexpected character " + quoteSnippet(s[i:i+1])}
			}
			i += n
			emit(tokPunct, start, i, "")
		}
	}
	return toks, nil
}

// TrimStatement returns q up to the end of its last token, without a
// trailing semicolon and the whitespace and comments around it, so that q
// can be wrapped (DESCRIBE TABLE (q)). A statement the tokenizer cannot
// read is returned as it is.
func TrimStatement(q string) string {
	toks, err := lex(q)
	if err != nil {
		return q
	}
	if n := len(toks); n > 0 && toks[n-1].is(";") {
		toks = toks[:n-1]
	}
	if len(toks) == 0 {
		return ""
	}
	last := toks[len(toks)-1]
	return q[:last.pos+len(last.text)]
}

// operatorLen returns the length of the operator at the start of s, or 0.
func operatorLen(s string) int {
	for _, op := range []string{"<=>", "->", "==", "!=", "<>", "<=", ">=", "::", "||", "@@",
		"+", "-", "*", "/", "%", "=", "<", ">", "?", ":", "^", "|", "@"} {
		if strings.HasPrefix(s, op) {
			return len(op)
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isWordChar(c byte) bool {
	return c == '_' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// wordEnd returns the end of the bare word starting at i: word characters
// and $.
func wordEnd(s string, i int) int {
	i++
	for i < len(s) && (isWordChar(s[i]) || s[i] == '$') {
		i++
	}
	return i
}

// numberSeparator reports whether the _ at s[i] separates digits, as in
// 1_000: not at the start of a block, not last, and followed by a digit.
func numberSeparator(s string, i int, startOfBlock, hex bool) bool {
	if s[i] != '_' || startOfBlock || i+1 >= len(s) {
		return false
	}
	if hex {
		return isHexDigit(s[i+1])
	}
	return isDigit(s[i+1])
}

// lexNumber returns the end of the number starting with a digit at i.
// After a dot only an integer is read, so that x.1.2 is two tuple accesses.
func lexNumber(s string, i int, afterDot bool) int {
	digits := func(i int, hex, startOfBlock bool) int {
		for i < len(s) && (!hex && isDigit(s[i]) || hex && isHexDigit(s[i]) || numberSeparator(s, i, startOfBlock, hex)) {
			i++
			startOfBlock = false
		}
		return i
	}
	if afterDot {
		return digits(i+1, false, false)
	}
	hex, startOfBlock := false, false
	if i+2 < len(s) && s[i] == '0' && strings.IndexByte("xXbB", s[i+1]) >= 0 {
		valid := false
		if s[i+1] == 'x' || s[i+1] == 'X' {
			valid = isHexDigit(s[i+2])
			hex = valid
		} else {
			valid = s[i+2] == '0' || s[i+2] == '1'
		}
		if valid {
			i += 2
			startOfBlock = true
		} else {
			i++
		}
	} else {
		i++
	}
	i = digits(i, hex, startOfBlock)
	if i < len(s) && s[i] == '.' {
		i = digits(i+1, hex, true)
	}
	if i+1 < len(s) && (!hex && (s[i] == 'e' || s[i] == 'E') || hex && (s[i] == 'p' || s[i] == 'P')) {
		i++
		if i+1 < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		i = digits(i, false, true)
	}
	return i
}

// lexFraction returns the end of a number that starts with its decimal
// point (.5, .5e3) at i.
func lexFraction(s string, i int) int {
	i++
	start := true
	for i < len(s) && (isDigit(s[i]) || numberSeparator(s, i, start, false)) {
		i++
		start = false
	}
	if i+1 < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i+1 < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		start = true
		for i < len(s) && (isDigit(s[i]) || numberSeparator(s, i, start, false)) {
			i++
			start = false
		}
	}
	return i
}

// heredocEnd returns the end of the heredoc $tag$…$tag$ starting at i, as
// ClickHouse finds it: the tag runs to the next $, and the text to the
// next occurrence of the tag.
func heredocEnd(s string, i int) (int, bool) {
	tagEnd := strings.IndexByte(s[i+1:], '$')
	if tagEnd < 0 {
		return 0, false
	}
	tag := s[i : i+1+tagEnd+1]
	end := strings.Index(s[i+len(tag):], tag)
	if end < 0 {
		return 0, false
	}
	return i + len(tag) + end + len(tag), true
}

// quotedEnd returns the index just after the quoted run starting at i and
// whether its closing quote was found: a backslash escapes the next byte,
// a doubled quote stands for one.
func quotedEnd(s string, i int) (int, bool) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(s) && s[j+1] == q { // doubled quote
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(s), false
}

// quotedName returns the name inside a quoted name token, with doubled
// quotes and escaped quotes and backslashes resolved. Other escapes (\n,
// \x41, …) are refused: names never need them, and reading them exactly
// as the engine does is not worth the risk of reading them differently.
func quotedName(tok string) (string, bool) {
	q := tok[0]
	body := tok[1 : len(tok)-1]
	if strings.IndexByte(body, '\\') < 0 && strings.IndexByte(body, q) < 0 {
		return body, true
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			if strings.IndexByte("\\'\"`", body[i]) < 0 {
				return "", false
			}
			b.WriteByte(body[i])
		case c == q && i+1 < len(body) && body[i+1] == q:
			i++
			b.WriteByte(q)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// quoteSnippet quotes the start of s for a message.
func quoteSnippet(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}
