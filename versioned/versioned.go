// Package versioned loads versioned, checksum-locked definition files: the
// KPI definitions, the lead scoring models and the audit rules; Catalog
// holds them parsed.
//
// A tree (an fs.FS: the embedded sql/kpis, or a user's directory) holds
// one folder per definition and one file per version:
//
//	<id>/v<N>.sql     a SQL statement after a leading /* … */ block comment
//	                  that holds the YAML header
//	<id>/v<N>.yaml    a YAML document, header and content in one
//	releases.lock     one line per released file: "<id>/v<N>.<ext> <sha256>"
//
// Ids are snake_case (a lower-case letter, then lower-case letters, digits
// and underscores); N counts from 1. The header must repeat the id and the
// version of its path (keys id and version). The checksum is the sha256 of
// the file with line endings as LF, so it covers the header (thresholds,
// owner, …) and the statement alike.
//
// A file listed in its tree's lock is released: it must never change. A
// released file whose checksum differs from the lock, or a locked file
// that is gone, makes Load fail with one line naming the file and both
// checksums — roll forward with a new version instead. A file not in the
// lock is a draft: it loads and runs, and callers mark what it produces as
// a draft. Release adds a draft to its tree's lock (ampel kpi release).
//
// Several versions of one id live side by side. A reference is ID or
// ID@vN; ID alone means the newest released version, or the newest draft
// when none is released yet. Trees are loaded together: a user's tree may
// add ids and new versions of built-in ids, but may not redefine a version
// that another tree has.
//
// The package imports only the standard library and yaml, so the packages
// that need definitions (kpis, scoring, audit) all share it.
package versioned

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LockFile is the name of a tree's lock file, at the tree's root.
const LockFile = "releases.lock"

// Tree is one source of definitions.
type Tree struct {
	// Name is how messages name the tree: "sql/kpis" for the built-in
	// definitions, the directory for a user's.
	Name string
	// FS holds the files.
	FS fs.FS
}

// File is one version of one definition.
type File struct {
	// ID and Version come from the path and agree with the header.
	ID      string
	Version int
	// Ext is "sql" or "yaml".
	Ext string
	// Name is the path inside the tree: <id>/v<N>.<ext>.
	Name string
	// Path is the tree's name joined with Name, for messages.
	Path string
	// Tree is the name of the tree the file came from.
	Tree string
	// Text is the whole file with LF line endings.
	Text string
	// Body is what follows the header comment of a .sql file; the whole
	// text of a .yaml file.
	Body string
	// Header is the YAML header, a mapping node; its lines are the file's.
	Header *yaml.Node
	// Checksum is the sha256 of Text, hex.
	Checksum string
	// Released is true when the tree's lock lists the file.
	Released bool
}

// Ref is ID@vN, or ID when Version is 0.
func (f *File) Ref() string { return fmt.Sprintf("%s@v%d", f.ID, f.Version) }

// Error is a problem in one definition file, located as precisely as
// known: file:line: key: message.
type Error struct {
	Path string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ChecksumError says a released file changed, or is gone (Now empty).
type ChecksumError struct {
	Path          string
	Locked, Found string
}

func (e *ChecksumError) Error() string {
	if e.Found == "" {
		return fmt.Sprintf("%s is released (sha256 %s in %s) but the file is gone: restore it; a released version never changes",
			e.Path, e.Locked, LockFile)
	}
	return fmt.Sprintf("%s changed after its release: the lock says sha256 %s, the file is %s; "+
		"restore the file and put the change in a new version", e.Path, e.Locked, e.Found)
}

// Set holds the definitions of one or more trees.
type Set struct {
	byID map[string][]*File // ascending version
}

var (
	idPattern   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	filePattern = regexp.MustCompile(`^v([1-9][0-9]*)\.(sql|yaml)$`)
)

// Sum is the checksum of a file's text: sha256 over LF line endings, hex.
func Sum(text []byte) string {
	sum := sha256.Sum256([]byte(normalize(string(text))))
	return hex.EncodeToString(sum[:])
}

func normalize(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// Load reads every tree. Any malformed file, header, lock line or changed
// release is an error; the first one found is returned.
func Load(trees ...Tree) (*Set, error) {
	s := &Set{byID: map[string][]*File{}}
	for _, t := range trees {
		files, err := loadTree(t)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			for _, other := range s.byID[f.ID] {
				if other.Version == f.Version {
					return nil, &Error{Path: f.Path, Msg: fmt.Sprintf("%s is defined twice (also %s)", f.Ref(), other.Path)}
				}
			}
			s.byID[f.ID] = append(s.byID[f.ID], f)
		}
	}
	for _, fs := range s.byID {
		sort.Slice(fs, func(i, j int) bool { return fs[i].Version < fs[j].Version })
	}
	return s, nil
}

func loadTree(t Tree) ([]*File, error) {
	lock, err := readLock(t)
	if err != nil {
		return nil, err
	}
	dirs, err := fs.ReadDir(t.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("read definitions %s: %w", t.Name, err)
	}
	var out []*File
	seen := map[string]bool{}
	for _, d := range dirs {
		if !d.IsDir() {
			if d.Name() == LockFile || strings.HasPrefix(d.Name(), ".") || strings.HasSuffix(d.Name(), ".go") || strings.HasSuffix(d.Name(), ".md") {
				continue
			}
			return nil, &Error{Path: path.Join(t.Name, d.Name()), Msg: "not a definition: put each definition in a folder <id>/v<N>.sql"}
		}
		id := d.Name()
		if strings.HasPrefix(id, ".") || strings.HasPrefix(id, "_") {
			continue
		}
		if !idPattern.MatchString(id) {
			return nil, &Error{Path: path.Join(t.Name, id), Msg: "a definition id is snake_case: a lower-case letter, then lower-case letters, digits and underscores"}
		}
		entries, err := fs.ReadDir(t.FS, id)
		if err != nil {
			return nil, fmt.Errorf("read definitions %s: %w", path.Join(t.Name, id), err)
		}
		versions := map[int]string{}
		for _, e := range entries {
			name := path.Join(id, e.Name())
			m := filePattern.FindStringSubmatch(e.Name())
			if e.IsDir() || m == nil {
				return nil, &Error{Path: path.Join(t.Name, name), Msg: "not a definition version: name it v<N>.sql or v<N>.yaml, N from 1"}
			}
			v, _ := strconv.Atoi(m[1])
			if other, dup := versions[v]; dup {
				return nil, &Error{Path: path.Join(t.Name, name), Msg: "version " + m[1] + " is also " + other}
			}
			versions[v] = e.Name()
			raw, err := fs.ReadFile(t.FS, name)
			if err != nil {
				return nil, fmt.Errorf("read definition %s: %w", path.Join(t.Name, name), err)
			}
			f := &File{ID: id, Version: v, Ext: m[2], Name: name, Path: path.Join(t.Name, name), Tree: t.Name,
				Text: normalize(string(raw))}
			f.Checksum = Sum(raw)
			if locked, ok := lock[name]; ok {
				if locked != f.Checksum {
					return nil, &ChecksumError{Path: f.Path, Locked: locked, Found: f.Checksum}
				}
				f.Released = true
			}
			seen[name] = true
			if err := f.parseHeader(); err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	names := make([]string, 0, len(lock))
	for name := range lock {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !seen[name] {
			return nil, &ChecksumError{Path: path.Join(t.Name, name), Locked: lock[name]}
		}
	}
	return out, nil
}

// readLock reads a tree's lock: file name → checksum. A missing lock is
// empty: everything in the tree is a draft.
func readLock(t Tree) (map[string]string, error) {
	lock := map[string]string{}
	data, err := fs.ReadFile(t.FS, LockFile)
	if errors.Is(err, fs.ErrNotExist) {
		return lock, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path.Join(t.Name, LockFile), err)
	}
	sc := bufio.NewScanner(strings.NewReader(normalize(string(data))))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || len(fields[1]) != 64 || strings.Trim(fields[1], "0123456789abcdef") != "" {
			return nil, &Error{Path: path.Join(t.Name, LockFile), Line: n, Msg: "want \"<id>/v<N>.<ext> <sha256>\""}
		}
		if _, dup := lock[fields[0]]; dup {
			return nil, &Error{Path: path.Join(t.Name, LockFile), Line: n, Msg: fields[0] + " is listed twice"}
		}
		lock[fields[0]] = fields[1]
	}
	return lock, nil
}

// parseHeader finds and parses the YAML header and checks its id and
// version against the path.
func (f *File) parseHeader() error {
	src, offset := f.Text, 0
	switch f.Ext {
	case "sql":
		trimmed := strings.TrimLeft(f.Text, " \t\n")
		if !strings.HasPrefix(trimmed, "/*") {
			return &Error{Path: f.Path, Line: 1, Msg: "a definition starts with its YAML header in a /* … */ comment"}
		}
		start := len(f.Text) - len(trimmed) + 2
		end := strings.Index(f.Text[start:], "*/")
		if end < 0 {
			return &Error{Path: f.Path, Line: 1, Msg: "the header comment /* is never closed with */"}
		}
		src = strings.TrimLeft(f.Text[start:start+end], " \t") // a header may begin on the line of /*
		offset = strings.Count(f.Text[:start], "\n")
		f.Body = strings.TrimSpace(f.Text[start+end+2:])
		if f.Body == "" {
			return &Error{Path: f.Path, Line: offset + strings.Count(src, "\n") + 1, Msg: "no statement after the header"}
		}
	default:
		f.Body = f.Text
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := regexp.MustCompile(`^line (\d+): (.*)$`).FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			line, msg = n+offset, m[2]
		}
		return &Error{Path: f.Path, Line: line, Msg: "header is not valid YAML: " + msg}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return &Error{Path: f.Path, Line: offset + 1, Msg: "the header is a YAML mapping of keys to values (id: …, version: …)"}
	}
	h := doc.Content[0]
	shift(h, offset)
	f.Header = h
	id, idLine := lookup(h, "id")
	if id == nil {
		return &Error{Path: f.Path, Line: h.Line, Key: "id", Msg: "required: " + f.ID}
	}
	if id.Value != f.ID {
		return &Error{Path: f.Path, Line: idLine, Key: "id", Msg: fmt.Sprintf("%q differs from the folder name %s", id.Value, f.ID)}
	}
	v, vLine := lookup(h, "version")
	if v == nil {
		return &Error{Path: f.Path, Line: h.Line, Key: "version", Msg: fmt.Sprintf("required: %d", f.Version)}
	}
	if n, err := strconv.Atoi(v.Value); err != nil || n != f.Version {
		return &Error{Path: f.Path, Line: vLine, Key: "version", Msg: fmt.Sprintf("%q differs from the file name v%d", v.Value, f.Version)}
	}
	return nil
}

// shift adds offset to the lines of n and everything below it.
func shift(n *yaml.Node, offset int) {
	n.Line += offset
	for _, c := range n.Content {
		shift(c, offset)
	}
}

// lookup finds key in a mapping node: its value and the key's line.
func lookup(m *yaml.Node, key string) (*yaml.Node, int) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1], m.Content[i].Line
		}
	}
	return nil, 0
}

// IDs lists the definition ids, sorted.
func (s *Set) IDs() []string {
	ids := make([]string, 0, len(s.byID))
	for id := range s.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Versions lists one id's files, oldest first; nil for an unknown id.
func (s *Set) Versions(id string) []*File { return s.byID[id] }

// Default is the version an id alone refers to: the newest released one,
// or the newest draft when none is released. Nil for an unknown id.
func (s *Set) Default(id string) *File {
	fs := s.byID[id]
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].Released {
			return fs[i]
		}
	}
	if len(fs) > 0 {
		return fs[len(fs)-1]
	}
	return nil
}

// Defaults lists the default version of every id, sorted by id.
func (s *Set) Defaults() []*File {
	var out []*File
	for _, id := range s.IDs() {
		out = append(out, s.Default(id))
	}
	return out
}

// ParseRef splits ID or ID@vN; version 0 means the default.
func ParseRef(ref string) (id string, version int, err error) {
	id, v, hasV := strings.Cut(strings.TrimSpace(ref), "@")
	if !idPattern.MatchString(id) {
		return "", 0, fmt.Errorf("%q is not a definition reference: write ID or ID@vN, e.g. win_rate@v1", ref)
	}
	if !hasV {
		return id, 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil || n < 1 || !strings.HasPrefix(v, "v") {
		return "", 0, fmt.Errorf("%q is not a definition reference: write ID or ID@vN, e.g. win_rate@v1", ref)
	}
	return id, n, nil
}

// Resolve finds the file a reference names.
func (s *Set) Resolve(ref string) (*File, error) {
	id, v, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	fs := s.byID[id]
	if len(fs) == 0 {
		return nil, fmt.Errorf("no definition %s (see the list of ids)", id)
	}
	if v == 0 {
		return s.Default(id), nil
	}
	for _, f := range fs {
		if f.Version == v {
			return f, nil
		}
	}
	var have []string
	for _, f := range fs {
		have = append(have, "v"+strconv.Itoa(f.Version))
	}
	return nil, fmt.Errorf("no version %d of %s (it has %s)", v, id, strings.Join(have, ", "))
}

// Release adds ref (ID@vN) to the lock file of the tree in directory dir
// and returns the line it wrote. The version must be a draft of that tree
// and load without error.
func Release(dir, ref string) (string, error) {
	id, v, err := ParseRef(ref)
	if err != nil {
		return "", err
	}
	if v == 0 {
		return "", fmt.Errorf("release %s: name the version, e.g. %s@v1", ref, id)
	}
	set, err := Load(Tree{Name: dir, FS: os.DirFS(dir)})
	if err != nil {
		return "", fmt.Errorf("release %s: %w", ref, err)
	}
	f, err := set.Resolve(ref)
	if err != nil {
		return "", fmt.Errorf("release %s in %s: %w", ref, dir, err)
	}
	if f.Released {
		return "", fmt.Errorf("release %s: already released (%s)", ref, f.Path)
	}
	lockPath := filepath.Join(dir, LockFile)
	old, err := os.ReadFile(lockPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("release %s: %w", ref, err)
	}
	text := normalize(string(old))
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	line := f.Name + " " + f.Checksum
	if err := os.WriteFile(lockPath, []byte(text+line+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("release %s: %w", ref, err)
	}
	return line, nil
}
