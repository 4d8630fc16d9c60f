package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder turns a YAML document into a Config field by field, so that every
// error knows its key and line (yaml.v3's own errors know only the line).
type decoder struct {
	file   string
	getenv func(string) (string, bool)
	lines  map[string]int
	// fromEnv, if not nil, gets the first ${NAME} of each value written
	// with one, by dotted key: such values are never printed.
	fromEnv map[string]string
}

var durationType = reflect.TypeOf(Duration(0))

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) error {
	return &Error{File: d.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// DecodeYAML decodes the YAML document data into v, a pointer to a struct
// whose fields carry yaml tags, as strictly as the configuration file: an
// unknown key, a key given twice or a value of the wrong kind is an *Error
// naming file, line and dotted key. Field types may be string, int,
// float64, bool, Duration, structs and slices of them. ${NAME} is expanded
// with getenv; a nil getenv leaves values as written. Other files Ampel
// reads (the KPI inputs file, definition headers) decode with it.
func DecodeYAML(file string, data []byte, v any, getenv func(string) (string, bool)) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return syntaxError(file, data, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return DecodeNode(file, doc.Content[0], v, getenv)
}

// DecodeNode is DecodeYAML for a node parsed already; errors carry the
// node's lines.
func DecodeNode(file string, n *yaml.Node, v any, getenv func(string) (string, bool)) error {
	d := decoder{file: file, getenv: getenv, lines: map[string]int{}}
	return d.decode(n, "", reflect.ValueOf(v).Elem(), false)
}

func (d *decoder) decodeDocument(data []byte, c *Config) error {
	if len(data) == 0 {
		return nil // an empty file is all defaults
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return syntaxError(d.file, data, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return d.decode(doc.Content[0], "", reflect.ValueOf(c).Elem(), false)
}

// decode fills v from n; key is n's dotted key, secret says whether the
// value must never be printed.
func (d *decoder) decode(n *yaml.Node, key string, v reflect.Value, secret bool) error {
	if key != "" {
		d.lines[key] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // key: with no value keeps the default
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(Table{}) && n.Kind == yaml.ScalarNode {
			return d.decode(n, key, v.FieldByName("Name"), false)
		}
		return d.decodeStruct(n, key, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errorf(n, key, "want a list, not %s", describe(n, key, secret))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := d.decode(item, fmt.Sprintf("%s[%d]", key, i), s.Index(i), secret); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}

	if n.Kind != yaml.ScalarNode {
		return d.errorf(n, key, "want a single value, not a %s", kindName(n))
	}
	text, env, err := d.expand(n, key)
	if err != nil {
		return err
	}
	if env != "" && d.fromEnv != nil {
		d.fromEnv[key] = env
	}
	quote := func(s string, secret bool) string { return shown(key, s, env, secret) }
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(text)
		if err != nil || dur < 0 {
			return d.errorf(n, key, "%s is not a duration such as 30s, 5m or 1h", quote(text, secret))
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(text)
	case v.Kind() == reflect.Int:
		i, err := strconv.Atoi(text)
		if err != nil {
			return d.errorf(n, key, "%s is not a whole number", quote(text, secret))
		}
		v.SetInt(int64(i))
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return d.errorf(n, key, "%s is not a number", quote(text, secret))
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return d.errorf(n, key, "%s is not true or false", quote(text, secret))
		}
		v.SetBool(b)
	default:
		panic("config: unsupported field type " + v.Type().String())
	}
	return nil
}

func (d *decoder) decodeStruct(n *yaml.Node, key string, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, key, "want a mapping of keys to values, not %s", describe(n, key, false))
	}
	t := v.Type()
	fields := map[string]int{}
	var known []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		known = append(known, tag)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		sub := k.Value
		if key != "" {
			sub = key + "." + k.Value
		}
		idx, ok := fields[k.Value]
		if !ok {
			return d.errorf(k, sub, "unknown key; known keys here: %s", strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return d.errorf(k, sub, "given twice")
		}
		seen[k.Value] = true
		secret := t.Field(idx).Tag.Get("secret") == "true" || secretKey(k.Value)
		if err := d.decode(val, sub, v.Field(idx), secret); err != nil {
			return err
		}
	}
	return nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${NAME} with the environment's value; env is the first
// NAME referred to ("" when none). Without getenv the text stays as written.
func (d *decoder) expand(n *yaml.Node, key string) (text, env string, err error) {
	if d.getenv == nil {
		return n.Value, "", nil
	}
	var missing string
	out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := ref[2 : len(ref)-1]
		if env == "" {
			env = name
		}
		val, ok := d.getenv(name)
		if !ok && missing == "" {
			missing = name
		}
		return val
	})
	if missing != "" {
		return "", "", d.errorf(n, key, "environment variable %s is not set", missing)
	}
	return out, env, nil
}

// describe names what n is, for an error about key; a scalar is quoted as
// written (a ${NAME} reference, not its value) unless it may be a secret.
func describe(n *yaml.Node, key string, secret bool) string {
	if n.Kind == yaml.ScalarNode {
		return shown(key, n.Value, "", secret)
	}
	return "a " + kindName(n)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "value"
	}
}
