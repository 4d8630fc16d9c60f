package warehouse

import "context"

// InsertRows writes rows to table as one batch naming cols; each row holds
// the values of cols in order. Nothing is written when a row does not fit.
func InsertRows(ctx context.Context, s Store, table string, cols []string, rows [][]any) error {
	b, err := s.PrepareInsert(ctx, table, cols)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			_ = b.Abort()
			return err
		}
	}
	return b.Send(ctx)
}
