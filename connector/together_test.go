package connector_test

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// together is a transport that holds every request match selects until n
// of them are in flight at once: a sync that sends them one after another
// (one only after another's answer) never gets past it, and waits for its
// context's end.
type together struct {
	base  http.RoundTripper
	match func(*http.Request) bool
	n     int32
	count atomic.Int32
	all   chan struct{}
	once  sync.Once
}

func newTogether(base http.RoundTripper, n int, match func(*http.Request) bool) *together {
	return &together{base: base, match: match, n: int32(n), all: make(chan struct{})}
}

func (t *together) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.match(req) {
		if t.count.Add(1) >= t.n {
			t.once.Do(func() { close(t.all) })
		}
		select {
		case <-t.all:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return t.base.RoundTrip(req)
}
