package schema_test

import (
	"io"
	"net/http"
)

func httpBody(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) })
}
