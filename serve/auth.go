package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/ampel/ampel/odata"
)

// Key is one named feed key, kept as the SHA-256 of the key only.
type Key struct {
	Name   string
	SHA256 [sha256.Size]byte
}

// KeyFromSecret makes a Key from the key itself.
func KeyFromSecret(name, secret string) Key {
	return Key{Name: name, SHA256: sha256.Sum256([]byte(secret))}
}

// KeyFromHash makes a Key from the hex SHA-256 of the key.
func KeyFromHash(name, hexHash string) (Key, error) {
	b, err := hex.DecodeString(hexHash)
	if err != nil || len(b) != sha256.Size {
		return Key{}, fmt.Errorf("key %s: sha256 is not 64 hex digits", name)
	}
	k := Key{Name: name}
	copy(k.SHA256[:], b)
	return k, nil
}

// realm is the WWW-Authenticate challenge of a 401: Basic, which Power
// BI's OData connector answers with its Basic credential.
const realm = `Basic realm="Ampel", charset="UTF-8"`

// presented returns the key a request carries: the Basic password (any
// user name), the Bearer token, or the query parameter param; "" when
// none.
func presented(r *http.Request, param string) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if _, pass, ok := r.BasicAuth(); ok {
			return pass
		}
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return r.URL.Query().Get(param)
}

// match finds the key whose hash is that of secret. Every key is
// compared, in constant time, whether or not an earlier one matched.
func match(keys []Key, secret string) (string, bool) {
	if secret == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(secret))
	name, found := "", 0
	for _, k := range keys {
		eq := subtle.ConstantTimeCompare(sum[:], k.SHA256[:])
		if eq == 1 && found == 0 {
			name = k.Name
		}
		found |= eq
	}
	return name, found == 1
}

// unauthorized answers 401 with the challenge and an OData error body.
func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", realm)
	odata.WriteError(w, http.StatusUnauthorized, "Unauthorized", msg)
}
