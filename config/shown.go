package config

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Which values a config error may print. An error quotes the value the
// user wrote when that helps to fix it ("postgres" is not a driver), but
// never a value that may be a secret. A value is not shown when
//
//   - it came from the environment, in part or whole (${NAME}): that is
//     how secrets are given, so the error names the variable instead;
//   - its key is marked secret (client_secret, serve.keys[].key) or is named like
//     a secret (secret, password, token, dsn, api_key, credential…);
//   - it looks like a secret: 16 or more characters without spaces that
//     mix upper case, lower case and digits (Entra ID client secrets,
//     base64 keys), 32 or more hex digits, or a URL with a password.
//
// Such a value is shown as "the value from ${NAME}" or "the value (not
// shown)".

// secretKeyRE matches key names that hold secrets.
var secretKeyRE = regexp.MustCompile(`(?i)secret|passw|pwd|token|dsn|api_?key|^key$|sha256|credential|private`)

// secretKey reports whether the dotted key's last name is named like a
// secret.
func secretKey(key string) bool {
	name := key
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	return secretKeyRE.MatchString(name)
}

// looksSecret reports whether s has the shape of a secret.
func looksSecret(s string) bool {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		_, hasPassword := u.User.Password()
		return hasPassword
	}
	if len(s) < 16 || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return false
	}
	var upper, lower, digit, hex bool
	hex = true
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		}
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			hex = false
		}
	}
	return upper && lower && digit || hex && len(s) >= 32
}

// shown quotes value for an error about key, or says where it came from
// when it must not be printed. env is the first ${NAME} the value was
// written with, "" when it was written in the file.
func shown(key, value, env string, secret bool) string {
	switch {
	case env != "":
		return "the value from ${" + env + "}"
	case secret || secretKey(key) || looksSecret(value):
		return "the value (not shown)"
	}
	return strconv.Quote(value)
}

// show quotes the value of key for a validation error (see shown).
func (c *Config) show(key, value string) string {
	return shown(key, value, c.fromEnv[key], false)
}
