package dataverse

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// proxyPage is the kind of page a reverse proxy answers when the service
// behind it is down.
const proxyPage = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.25.3</center>
</body>
</html>
<!-- a padding to disable MSIE and Chrome friendly error page -->
<!-- a padding to disable MSIE and Chrome friendly error page -->
`

// TestProxyErrorPage: a proxy's HTML error page is reduced to its status
// line in the error; a plain text body is kept, shortened.
func TestProxyErrorPage(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, proxyPage)
	})
	c := f.client(t, func(cfg *Config) { cfg.MaxWait = 100 * time.Millisecond })
	_, err := c.WhoAmI(context.Background())
	require.ErrorIs(t, err, ErrUnavailable)
	msg := err.Error()
	require.Contains(t, msg, "dataverse GET /api/data/v9.2/WhoAmI: HTTP 502: Bad Gateway (gave up after")
	for _, markup := range []string{"<", "nginx", "padding"} {
		require.NotContains(t, msg, markup)
	}

	// an HTML page sent without its content type
	f = newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "\n  <!DOCTYPE html><html><body>Access denied by policy</body></html>")
	})
	_, err = f.client(t, nil).WhoAmI(context.Background())
	require.ErrorContains(t, err, "HTTP 403: Forbidden")
	require.NotContains(t, err.Error(), "<")

	// plain text says something the status does not: kept
	f = newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "request header too large")
	})
	_, err = f.client(t, nil).WhoAmI(context.Background())
	require.ErrorContains(t, err, "HTTP 400: request header too large")
}
