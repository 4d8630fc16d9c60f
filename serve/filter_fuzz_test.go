package serve

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ampel/ampel/odata"
	"github.com/ampel/ampel/warehouse"
)

// fuzzColumns are the columns the fuzzed filters are translated over: one
// of each kind the feed serves.
func fuzzColumns(tb testing.TB) map[string]*column {
	cols := map[string]*column{}
	for _, c := range []warehouse.Column{
		{Name: "id", Type: "UUID"}, {Name: "name", Type: "String"}, {Name: "email", Type: "Nullable(String)"},
		{Name: "revenue", Type: "Decimal(18, 2)"}, {Name: "created", Type: "Date"}, {Name: "modified", Type: "DateTime('UTC')"},
		{Name: "score", Type: "Int64"}, {Name: "active", Type: "Bool"}, {Name: "rating", Type: "Nullable(Float64)"},
		{Name: "tags", Type: "Array(String)"}, {Name: "code", Type: "LowCardinality(String)"}, {Name: "at", Type: "DateTime64(3, 'UTC')"},
	} {
		col, err := newColumn(c)
		if err != nil {
			tb.Fatal(err)
		}
		cols[c.Name] = &col
	}
	return cols
}

// sqlToken is everything the translation may write itself: quoted column
// names, placeholders, the operators and functions it uses, parentheses,
// commas, and the constants 0 and 1. A literal of the filter can only be
// a bound argument, so any other text in the SQL is an injection.
var sqlToken = regexp.MustCompile("^(\\s+|`[a-z_]+`|\\?|AND|OR|NOT|LIKE|isNull|isNotNull|ifNull|lowerUTF8|upperUTF8|toDate|=|!=|>=|<=|>|<|\\(|\\)|,|0|1)")

func checkSQL(t *testing.T, filter, sql string, cols map[string]*column) {
	for rest := sql; rest != ""; {
		m := sqlToken.FindString(rest)
		if m == "" {
			t.Fatalf("filter %q: SQL %q has text the translation does not write at %q", filter, sql, rest)
		}
		if strings.HasPrefix(m, "`") {
			if _, ok := cols[strings.Trim(m, "`")]; !ok {
				t.Fatalf("filter %q: SQL %q names %s, not a column", filter, sql, m)
			}
		}
		rest = rest[len(m):]
	}
}

// FuzzFilter translates arbitrary $filter text: it must never panic, and
// whatever it translates holds no text of the filter but column names.
// go test runs the seeds; go test -fuzz FuzzFilter ./serve searches.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"score eq 3", "name eq 'O''Brien'", "contains(name,'%_\\')", "startswith(tolower(name),'sm')",
		"email eq null", "email ne 'x' or not (score lt 0)", "modified ge 2024-05-20T00:00:00Z and modified lt 2024-06-10T00:00:00Z",
		"modified ge 2024-05-20T00:00:00.5Z", "created lt 2024-05-10T12:00:00Z", "revenue gt 500.5", "revenue le 100M",
		"id eq 3F2504E0-4F89-11D3-9A0C-0305E82C3301", "score in (1, 2, -5)", "name in ('a', 'b')", "active", "not active",
		"rating ne 1.5", "name eq 'x') OR 1=1 --", "name eq 'a'; DROP TABLE x", "tags eq 'a'", "code eq 'x'",
		"file('/etc/passwd') eq 'x'", "`name` eq 'x'", "name eq name", "score eq rating", "1 eq 1", "true",
		"modified eq 1900-01-01T00:00:00Z", "at ge 2024-05-01T00:00:00.123Z", "name eq 'a' and (score gt 1 or (rating lt 2 and not (email eq null)))",
	} {
		f.Add(s)
	}
	cols := fuzzColumns(f)
	f.Fuzz(func(t *testing.T, filter string) {
		n, err := odata.ParseFilter(filter)
		if err != nil {
			return
		}
		tr := &translator{cols: cols}
		e, err := tr.filter(n)
		if err != nil {
			var br badRequest
			if !errorsAs(err, &br) {
				t.Fatalf("filter %q: error %v is not a bad request", filter, err)
			}
			return
		}
		checkSQL(t, filter, e.text, cols)
		if got := strings.Count(e.text, "?"); got != len(e.args) {
			t.Fatalf("filter %q: %d placeholders, %d arguments", filter, got, len(e.args))
		}
		bound, err := warehouse.Bind("SELECT 1 FROM t WHERE "+e.text, e.args...)
		if err != nil {
			t.Fatalf("filter %q: bind: %v", filter, err)
		}
		if err := warehouse.CheckReadOnly(bound, "db"); err != nil {
			t.Fatalf("filter %q: %s is refused as not read-only: %v", filter, bound, err)
		}
	})
}

func errorsAs(err error, target *badRequest) bool {
	br, ok := err.(badRequest)
	if ok {
		*target = br
	}
	return ok
}
