package warehouse

import "context"

// BatchBound is where the writer of a batch means to send it: once it
// holds about Rows rows or Bytes bytes of values (Batch.Bytes), whichever
// comes first; 0 is no bound of that kind. A driver may size its buffers
// from it, so that a batch's values are not copied again and again as
// they grow; it changes nothing that is stored.
type BatchBound struct {
	Rows, Bytes int
}

type batchBoundKey struct{}

// WithBatchBound returns a context under which the batches that
// Store.PrepareInsert starts expect to end at bound.
func WithBatchBound(ctx context.Context, bound BatchBound) context.Context {
	return context.WithValue(ctx, batchBoundKey{}, bound)
}

// BatchBoundFrom is the bound WithBatchBound put into ctx (the zero
// BatchBound if none). Drivers read it in PrepareInsert.
func BatchBoundFrom(ctx context.Context) BatchBound {
	b, _ := ctx.Value(batchBoundKey{}).(BatchBound)
	return b
}
