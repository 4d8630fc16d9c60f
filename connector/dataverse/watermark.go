package dataverse

import (
	"strings"
	"time"

	"github.com/ampel/ampel/odata"
)

// WatermarkQuery reads the rows of a table without change tracking that
// were modified at or after since: $filter=modifiedon ge <since> (ge, never
// gt: modifiedon has second precision and many rows share a second) and
// $orderby=modifiedon asc,<pk> asc (the key as the last sort key, so pages
// neither skip nor repeat rows). Callers subtract an overlap window from
// their stored watermark, because a late commit can carry an earlier
// modifiedon, and dedupe by key. A zero since reads everything in the same
// order. Deletions are invisible this way.
func WatermarkQuery(entitySet, primaryKey string, sel []string, since time.Time) Query {
	q := Query{
		EntitySet: entitySet,
		Select:    sel,
		OrderBy:   "modifiedon asc," + primaryKey + " asc",
	}
	if !since.IsZero() {
		// Edm.DateTimeOffset literal: no quotes
		q.Filter = "modifiedon ge " + since.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
	}
	return q
}

// Watermark returns the largest modifiedon among the page's records, or
// prev if none is larger.
func Watermark(p *Page, prev time.Time) time.Time {
	hint := -1
	for i := range p.Records {
		var f *Field
		f, hint = p.Records[i].FieldAt("modifiedon", hint)
		if f == nil || f.Value.Kind != KindString {
			continue
		}
		if t, err := ParseTime(f.Value.Text); err == nil && t.After(prev) {
			prev = t
		}
	}
	return prev
}

// IsDeltaContext reports whether an @odata.context is that of a delta page.
func IsDeltaContext(ctx string) bool { return strings.HasSuffix(ctx, odata.ContextDelta) }
