package sql_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ddl matches the statements that change the warehouse's schema, written
// in capitals as Ampel writes SQL (prose such as "drop table x by hand"
// in a message does not match).
var ddl = regexp.MustCompile(`\b(CREATE\s+(OR\s+REPLACE\s+)?(TABLE|VIEW|MATERIALIZED\s+VIEW|DATABASE)|ALTER\s+TABLE|DROP\s+(TABLE|VIEW|DATABASE)|RENAME\s+TABLE)\b`)

// TestNoInlineDDL holds every DDL statement Ampel runs in sql/, as a
// template that reads the engine's Dialect, so that a cluster (ON
// CLUSTER, Replicated engines) changes templates only: it fails on a Go
// string literal that holds CREATE or DROP of a TABLE, VIEW or DATABASE,
// ALTER TABLE or RENAME TABLE outside tests. Left out: test files and the
// test-support packages (storetest, warehousetest, dataversetest), which
// create tables of their own; and messages — the arguments of fmt.Errorf
// and errors.New and the body of an Error method — which may tell a user
// what to run by hand.
func TestNoInlineDDL(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	var found []string
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || strings.HasSuffix(name, "test")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		files++
		rel, _ := filepath.Rel(root, path)
		for _, lit := range inlineDDL(t, path) {
			found = append(found, rel+": "+lit)
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 50, "the walk found the module's Go files")
	require.Empty(t, found, "DDL belongs in a template under sql/ that reads the Dialect, not in a Go string")
}

// inlineDDL returns the string literals of a Go file that hold DDL,
// messages left out.
func inlineDDL(t *testing.T, path string) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	require.NoError(t, err, path)
	var out []string
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncDecl:
			if x.Name.Name == "Error" && x.Recv != nil {
				return false
			}
		case *ast.CallExpr:
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "fmt" && sel.Sel.Name == "Errorf" || pkg.Name == "errors" && sel.Sel.Name == "New") {
					return false
				}
			}
		case *ast.BasicLit:
			if x.Kind == token.STRING {
				s, err := strconv.Unquote(x.Value)
				if err == nil && ddl.MatchString(s) {
					out = append(out, fset.Position(x.Pos()).String()+" "+x.Value)
				}
			}
		}
		return true
	}
	ast.Inspect(f, visit)
	return out
}
