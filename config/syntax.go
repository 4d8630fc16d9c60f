package config

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// syntaxError turns a YAML parse error of data into an *Error at the line
// it names. yaml.v3 reports a tab in the indentation as "found character
// that cannot start any token"; it is named as a tab instead, at the first
// line a tab indents.
func syntaxError(file string, data []byte, err error) error {
	for i, line := range bytes.Split(data, []byte("\n")) {
		indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 && len(bytes.TrimSpace(line)) > 0 {
			return &Error{File: file, Line: i + 1, Msg: "a tab character indents this line; YAML allows spaces only"}
		}
	}
	msg := err.Error()
	e := &Error{File: file}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	e.Msg = "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")
	return e
}
