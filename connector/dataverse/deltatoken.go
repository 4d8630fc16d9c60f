package dataverse

import (
	"net/url"
	"strconv"
	"strings"
)

// DeltaTokenVersion reads the version from a delta link's $deltatoken,
// whose documented form is <version>!<utc timestamp> (e.g.
// 919042!08/22/2017 08:10:44; VERIFY that every environment writes it so).
// Callers keep treating the link as opaque and use the version only to
// notice that the source's versions went backwards; ok is false when the
// link holds no such token.
func DeltaTokenVersion(link string) (version uint64, ok bool) {
	u, err := url.Parse(link)
	if err != nil {
		return 0, false
	}
	tok := u.Query().Get("$deltatoken")
	v, _, found := strings.Cut(tok, "!")
	if !found {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}
