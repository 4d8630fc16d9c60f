package check

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slogLevels are the logger methods whose arguments after the message are
// key-value pairs.
var slogLevels = map[string]bool{"Debug": true, "Info": true, "Warn": true, "Error": true}

// slogAttrs are the slog functions that make one attribute from a key.
var slogAttrs = map[string]bool{"String": true, "Int": true, "Int64": true, "Uint64": true, "Float64": true,
	"Bool": true, "Time": true, "Duration": true, "Any": true, "Group": true}

// builtinFields are written by log/slog itself.
var builtinFields = []string{"time", "level", "msg"}

// logFields returns every log field key Ampel's code writes, with a file
// that writes it: the string keys of Debug/Info/Warn/Error and With calls,
// of slog.String and its kin, and of the attrs slices passed to them.
func logFields(t *testing.T) map[string]string {
	t.Helper()
	fields := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root(t), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "check", "_scratch":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root(t), p)
		add := func(e ast.Expr) {
			if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if k, err := strconv.Unquote(lit.Value); err == nil {
					fields[k] = rel
				}
			}
		}
		pairs := func(args []ast.Expr) {
			for i := 0; i < len(args); i += 2 {
				add(args[i])
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "append" && len(n.Args) > 1 {
						if a, ok := n.Args[0].(*ast.Ident); ok && a.Name == "attrs" {
							pairs(n.Args[1:])
						}
					}
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "slog" {
					if slogAttrs[sel.Sel.Name] && len(n.Args) > 0 {
						add(n.Args[0])
					}
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "http" {
					return true // http.Error(w, text, code) writes a response, not a log line
				}
				switch {
				case slogLevels[sel.Sel.Name] && len(n.Args) > 1:
					pairs(n.Args[1:])
				case sel.Sel.Name == "With" && len(n.Args) > 1:
					pairs(n.Args)
				}
			case *ast.AssignStmt:
				if len(n.Lhs) == 1 && len(n.Rhs) == 1 {
					if id, ok := n.Lhs[0].(*ast.Ident); ok && id.Name == "attrs" {
						if cl, ok := n.Rhs[0].(*ast.CompositeLit); ok {
							pairs(cl.Elts)
						}
					}
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return fields
}

// TestLogFieldReference: the README's "Log fields" table names every key
// Ampel's code logs, and nothing it does not.
func TestLogFieldReference(t *testing.T) {
	readme := read(t, "README.md")
	start := strings.Index(readme, "\n## Log fields\n")
	require.GreaterOrEqual(t, start, 0, "README has a section \"## Log fields\"")
	section := readme[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	documented := map[string]bool{}
	// the first cell of each row: `field` or `field`, `field`, …
	for _, row := range regexp.MustCompile("(?m)^\\| (`[^|]*) \\|").FindAllStringSubmatch(section, -1) {
		for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(row[1], -1) {
			documented[m[1]] = true
		}
	}
	code := logFields(t)
	var missing []string
	for k, file := range code {
		if !documented[k] {
			missing = append(missing, k+" ("+file+")")
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "log fields the README's table does not name")
	for _, k := range builtinFields {
		code[k] = "log/slog"
	}
	var stale []string
	for k := range documented {
		if _, ok := code[k]; !ok {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	assert.Empty(t, stale, "fields the README names that no code logs")
}

// TestMetricReference: the README's "Metrics" table names every metric
// package metrics defines, and nothing it does not.
func TestMetricReference(t *testing.T) {
	readme := read(t, "README.md")
	start := strings.Index(readme, "\n## Metrics\n")
	require.GreaterOrEqual(t, start, 0, "README has a section \"## Metrics\"")
	section := readme[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(ampel_[a-z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	defined := map[string]bool{}
	files, err := filepath.Glob(filepath.Join(root(t), "metrics", "*.go"))
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range regexp.MustCompile(`Name:\s*"(ampel_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
	}
	require.NotEmpty(t, defined, "package metrics defines metrics")
	assert.Equal(t, defined, documented, "metrics defined in package metrics (left) and named in the README (right)")
}
