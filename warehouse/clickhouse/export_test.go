package clickhouse

import (
	"context"
	"fmt"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/ampel/ampel/warehouse"
)

// QueryUnchecked runs q with readonly=1 but without the read-only checks
// in Go (warehouse.CheckReadOnly, CheckExplainAST), so that tests see what
// the server alone allows. It returns the rows as text.
func QueryUnchecked(ctx context.Context, st warehouse.Store, q string) (string, error) {
	s := st.(*Store)
	ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"readonly": 1}))
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return "", wrapErr(ctx, err, q)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		fmt.Fprintln(&b, "row")
	}
	return b.String(), rows.Err()
}
