package clickhouse

import (
	"github.com/ampel/ampel/warehouse"

	"errors"
	"strings"
)

// Old servers (18.16 tested) answer an INSERT whose data is inline in the
// statement (INSERT … VALUES, INSERT … FORMAT) over the native protocol by
// asking the client for data blocks as well; clickhouse-go's Exec never
// sends the closing empty block, so the statement hangs until its timeout.
// The driver therefore rewrites INSERT … VALUES (…), (…) into the
// equivalent INSERT … SELECT …, SELECT … joined by UNION ALL (the server
// casts each column to the table's type, as VALUES does), and refuses other
// inline formats with an error pointing at PrepareInsert.

var errInlineInsert = errors.New("clickhouse: INSERT with inline data other than VALUES is not supported by this server over the native protocol; use PrepareInsert")

// rewriteInsert returns q rewritten for an old server, q itself when it is
// not an INSERT with inline data.
func rewriteInsert(q string) (string, error) {
	i := skipSpace(q, 0)
	if !hasWord(q, i, "INSERT") {
		return q, nil
	}
	// find the first top-level VALUES, SELECT, WITH or FORMAT keyword
	depth := 0
	for j := i; j < len(q); {
		c := q[j]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j = warehouse.SkipQuoted(q, j)
			continue
		case c == '-' && strings.HasPrefix(q[j:], "--"), c == '/' && strings.HasPrefix(q[j:], "/*"):
			j = skipSpace(q, j)
			continue
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && isWordStart(q, j):
			switch {
			case hasWord(q, j, "SELECT"), hasWord(q, j, "WITH"):
				return q, nil
			case hasWord(q, j, "FORMAT"):
				return "", errInlineInsert
			case hasWord(q, j, "VALUES"):
				rows, ok := valueTuples(q[j+len("VALUES"):])
				if !ok {
					return "", errInlineInsert
				}
				return strings.TrimRight(q[:j], " \t\r\n") + " SELECT " + strings.Join(rows, " UNION ALL SELECT "), nil
			}
		}
		j++
	}
	return q, nil
}

// valueTuples splits "(a, b), (c, d);" into "a, b" and "c, d".
func valueTuples(s string) ([]string, bool) {
	var rows []string
	j := skipSpace(s, 0)
	for j < len(s) {
		if s[j] != '(' {
			return nil, false
		}
		start, depth := j+1, 0
		for j < len(s) {
			c := s[j]
			if c == '\'' || c == '"' || c == '`' {
				j = warehouse.SkipQuoted(s, j)
				continue
			}
			if c == '(' {
				depth++
			} else if c == ')' {
				depth--
				if depth == 0 {
					break
				}
			}
			j++
		}
		if j >= len(s) {
			return nil, false
		}
		row := strings.TrimSpace(s[start:j])
		if row == "" {
			return nil, false
		}
		rows = append(rows, row)
		j = skipSpace(s, j+1)
		if j < len(s) && s[j] == ',' {
			j = skipSpace(s, j+1)
			continue
		}
		for j < len(s) && s[j] == ';' {
			j = skipSpace(s, j+1)
		}
		if j < len(s) {
			return nil, false
		}
	}
	return rows, len(rows) > 0
}

// skipSpace skips whitespace and comments from i.
func skipSpace(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r':
			i++
		case strings.HasPrefix(s[i:], "--"):
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return len(s)
			}
			i += end + 1
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return len(s)
			}
			i += end + 4
		default:
			return i
		}
	}
	return i
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isWordStart(s string, i int) bool { return i == 0 || !isIdent(s[i-1]) }

// hasWord reports whether the keyword w (case-insensitive) starts at i and
// ends there too.
func hasWord(s string, i int, w string) bool {
	if len(s)-i < len(w) || !strings.EqualFold(s[i:i+len(w)], w) {
		return false
	}
	return i+len(w) == len(s) || !isIdent(s[i+len(w)])
}
