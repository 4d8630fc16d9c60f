package sql

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"text/template"

	"github.com/ampel/ampel/warehouse"
)

// funcs are the functions every template sees: ident quotes a name.
var funcs = template.FuncMap{"ident": warehouse.QuoteIdentifier}

// Render executes the SQL template name from fsys with data. Templates
// see the function ident, which quotes a name, and by convention the
// engine's Dialect as .Dialect (warehouse.Dialect.TemplateData), so that
// what differs between engines is written in the template, not in Go. On
// a cluster the server driver sends each DDL ON CLUSTER with Replicated
// engines (warehouse.ClusterDDL); a template writes only what has another
// shape there (.Dialect.Cluster: the landing tables).
func Render(fsys fs.FS, name string, data any) (string, error) {
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	return RenderText(name, string(src), data)
}

// RenderText executes the SQL template src, called name in errors, with
// data; see Render. A key the template reads that data lacks is an error.
func RenderText(name, src string, data any) (string, error) {
	tmpl, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
	if err != nil {
		return "", fmt.Errorf("sql template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("sql template %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()), nil
}
