package odata

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The service side of a feed: the metadata document (CSDL 4.0 XML), the
// service document, and the pieces of a JSON response with minimal
// metadata.

// Edm primitive type names a feed declares.
const (
	EdmString         = "Edm.String"
	EdmBoolean        = "Edm.Boolean"
	EdmByte           = "Edm.Byte"
	EdmInt16          = "Edm.Int16"
	EdmInt32          = "Edm.Int32"
	EdmInt64          = "Edm.Int64"
	EdmDouble         = "Edm.Double"
	EdmDecimal        = "Edm.Decimal"
	EdmDate           = "Edm.Date"
	EdmDateTimeOffset = "Edm.DateTimeOffset"
	EdmGuid           = "Edm.Guid"
)

// edmTypes are the primitive types WriteMetadata accepts (also as
// Collection(T)); a model with any other type name is refused, because an
// XSD check does not catch an unknown type such as Edm.Money and Power BI
// then fails on the whole feed.
var edmTypes = map[string]bool{
	EdmString: true, EdmBoolean: true, EdmByte: true, EdmInt16: true, EdmInt32: true, EdmInt64: true,
	EdmDouble: true, EdmDecimal: true, EdmDate: true, EdmDateTimeOffset: true, EdmGuid: true,
}

// Model is the entity model of a feed: one schema, one container, an
// entity set per entity type of the same name.
type Model struct {
	Namespace string // e.g. Ampel
	Container string // e.g. Feed
	Types     []EntityType
}

// EntityType is one entity type and the entity set that holds its entities.
type EntityType struct {
	Name       string
	Key        []string // property names; at least one
	Properties []PropertyDef
}

// PropertyDef is one structural property of an entity type.
type PropertyDef struct {
	Name string
	// Type is an Edm primitive type name, or Collection(Edm.…).
	Type     string
	Nullable bool
	// Precision and Scale of Edm.Decimal; Precision of Edm.DateTimeOffset
	// (fractional seconds). Zero leaves them out.
	Precision, Scale int
	HasScale         bool
}

// SimpleIdentifier reports whether s is a CSDL simple identifier: a letter
// or underscore, then letters, digits or underscores, at most 128
// characters.
func SimpleIdentifier(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 128 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Check reports the first thing in m that would make its metadata
// invalid: a name that is not a simple identifier, an entity type without
// a key or with a key property it does not have (or that is nullable), an
// unknown type, a name used twice.
func (m Model) Check() error {
	if !SimpleIdentifier(m.Container) {
		return fmt.Errorf("container name %q is not a simple identifier", m.Container)
	}
	for _, part := range strings.Split(m.Namespace, ".") {
		if !SimpleIdentifier(part) {
			return fmt.Errorf("namespace %q is not a namespace", m.Namespace)
		}
	}
	types := map[string]bool{}
	for _, t := range m.Types {
		if !SimpleIdentifier(t.Name) {
			return fmt.Errorf("entity type name %q is not a simple identifier", t.Name)
		}
		if types[t.Name] {
			return fmt.Errorf("entity type %s is declared twice", t.Name)
		}
		types[t.Name] = true
		props := map[string]PropertyDef{}
		for _, p := range t.Properties {
			if !SimpleIdentifier(p.Name) {
				return fmt.Errorf("%s: property name %q is not a simple identifier", t.Name, p.Name)
			}
			if _, dup := props[p.Name]; dup {
				return fmt.Errorf("%s: property %s is declared twice", t.Name, p.Name)
			}
			base := strings.TrimSuffix(strings.TrimPrefix(p.Type, "Collection("), ")")
			if !edmTypes[base] {
				return fmt.Errorf("%s.%s: %q is not a primitive type the feed declares", t.Name, p.Name, p.Type)
			}
			props[p.Name] = p
		}
		if len(t.Key) == 0 {
			return fmt.Errorf("entity type %s has no key", t.Name)
		}
		for _, k := range t.Key {
			p, ok := props[k]
			switch {
			case !ok:
				return fmt.Errorf("entity type %s: key property %s is not one of its properties", t.Name, k)
			case p.Nullable:
				return fmt.Errorf("entity type %s: key property %s is nullable", t.Name, k)
			case strings.HasPrefix(p.Type, "Collection("):
				return fmt.Errorf("entity type %s: key property %s is a collection", t.Name, k)
			}
		}
	}
	return nil
}

// WriteMetadata writes m as a CSDL 4.0 metadata document (XML), after
// Check.
func WriteMetadata(w io.Writer, m Model) error {
	if err := m.Check(); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	b := bufio.NewWriter(w)
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">` + "\n")
	b.WriteString("  <edmx:DataServices>\n")
	fmt.Fprintf(b, "    <Schema xmlns=\"http://docs.oasis-open.org/odata/ns/edm\" Namespace=%q>\n", m.Namespace)
	for _, t := range m.Types {
		fmt.Fprintf(b, "      <EntityType Name=%q>\n        <Key>\n", t.Name)
		for _, k := range t.Key {
			fmt.Fprintf(b, "          <PropertyRef Name=%q/>\n", k)
		}
		b.WriteString("        </Key>\n")
		for _, p := range t.Properties {
			fmt.Fprintf(b, "        <Property Name=%q Type=%q Nullable=%q", p.Name, p.Type, strconv.FormatBool(p.Nullable))
			if p.Precision > 0 {
				fmt.Fprintf(b, " Precision=\"%d\"", p.Precision)
			}
			if p.HasScale {
				fmt.Fprintf(b, " Scale=\"%d\"", p.Scale)
			}
			b.WriteString("/>\n")
		}
		b.WriteString("      </EntityType>\n")
	}
	fmt.Fprintf(b, "      <EntityContainer Name=%q>\n", m.Container)
	for _, t := range m.Types {
		fmt.Fprintf(b, "        <EntitySet Name=%q EntityType=\"%s.%s\"/>\n", t.Name, m.Namespace, t.Name)
	}
	b.WriteString("      </EntityContainer>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n")
	return b.Flush()
}

// ServiceDocument returns the JSON service document: every entity set,
// with the metadata URL as its context.
func ServiceDocument(metadataURL string, sets []string) []byte {
	type entry struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
		URL  string `json:"url"`
	}
	doc := struct {
		Context string  `json:"@odata.context"`
		Value   []entry `json:"value"`
	}{Context: metadataURL, Value: []entry{}}
	for _, s := range sets {
		doc.Value = append(doc.Value, entry{Name: s, Kind: "EntitySet", URL: s})
	}
	out, _ := json.Marshal(doc)
	return out
}

// AppendJSONString appends s to dst as a JSON string: quotes, backslash,
// control characters and the characters JavaScript cannot take in a
// string (U+2028, U+2029) escaped; invalid UTF-8 as U+FFFD.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
