package dvsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ampel/ampel/odata"
)

var b64 = base64.RawURLEncoding

// newTLS creates a CA and a leaf certificate for 127.0.0.1 and localhost.
func newTLS() (caPEM []byte, cert tls.Certificate, pool *x509.CertPool, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ampel dvsim CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, nil, err
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, nil, err
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	cert = tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return caPEM, cert, pool, nil
}

func (s *Server) signJWT(claims map[string]any) string {
	hdr, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": s.kid, "x5t": s.kid})
	body, _ := json.Marshal(claims)
	signing := b64.EncodeToString(hdr) + "." + b64.EncodeToString(body)
	sum := sha256.Sum256([]byte(signing))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	return signing + "." + b64.EncodeToString(sig)
}

// parseJWT splits and decodes a JWT; verify checks the signature against the header.
func parseJWT(tok string) (hdr, claims map[string]any, signing string, sig []byte, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, "", nil, errors.New("not a JWT")
	}
	hb, err1 := b64.DecodeString(parts[0])
	cb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, nil, "", nil, errors.New("bad JWT encoding")
	}
	dec := json.NewDecoder(strings.NewReader(string(cb)))
	dec.UseNumber()
	if json.Unmarshal(hb, &hdr) != nil || dec.Decode(&claims) != nil {
		return nil, nil, "", nil, errors.New("bad JWT JSON")
	}
	return hdr, claims, parts[0] + "." + parts[1], sig, nil
}

func verifyRSA(pub *rsa.PublicKey, alg, signing string, sig []byte) error {
	sum := sha256.Sum256([]byte(signing))
	switch alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, nil)
	}
	return errors.New("unsupported alg " + alg)
}

func numClaim(c map[string]any, k string) int64 {
	if n, ok := c[k].(json.Number); ok {
		v, _ := n.Int64()
		return v
	}
	return 0
}

// checkToken validates a bearer token for the Web API; it returns the caller's object id.
func (s *Server) checkToken(r *http.Request) (string, string) {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Bearer ") {
		return "", "The request has no bearer token."
	}
	hdr, claims, signing, sig, err := parseJWT(strings.TrimPrefix(h, "Bearer "))
	if err != nil {
		return "", "Bearer token is malformed: " + err.Error()
	}
	if alg, _ := hdr["alg"].(string); alg != "RS256" || verifyRSA(&s.key.PublicKey, alg, signing, sig) != nil {
		return "", "Bearer token signature is invalid."
	}
	if aud, _ := claims["aud"].(string); strings.TrimSuffix(aud, "/") != s.envURL {
		return "", "Bearer token audience is not valid for this organization."
	}
	if exp := numClaim(claims, "exp"); time.Now().Unix() >= exp || numClaim(claims, "sim_gen") < s.tokenGen.Load() {
		return "", "Bearer token expired."
	}
	if nbf := numClaim(claims, "nbf"); nbf > time.Now().Unix()+300 {
		return "", "Bearer token is not yet valid."
	}
	oid, _ := claims["oid"].(string)
	return oid, ""
}

func (s *Server) unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer authorization_uri=`+s.authority+`/oauth2/authorize, resource_id=`+s.envURL+`/`)
	// VERIFY: Dataverse's 401 body; the simulator sends the error JSON with an empty code.
	writeJSON(w, http.StatusUnauthorized, odata.MarshalError("", msg))
}

func (s *Server) openIDConfig(w http.ResponseWriter) {
	a := s.authority
	body, _ := json.Marshal(map[string]any{
		"token_endpoint":                        a + "/oauth2/v2.0/token",
		"authorization_endpoint":                a + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         a + "/oauth2/v2.0/devicecode",
		"issuer":                                a + "/v2.0",
		"jwks_uri":                              a + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
	writeJSON(w, 200, body)
}

func (s *Server) jwks(w http.ResponseWriter) {
	pub := s.key.PublicKey
	body, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "kid": s.kid, "x5t": s.kid,
		"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	writeJSON(w, 200, body)
}

// instanceDiscovery answers /common/discovery/instance the way Entra ID does for a known host.
func (s *Server) instanceDiscovery(w http.ResponseWriter) {
	host := strings.TrimPrefix(s.envURL, "https://")
	body, _ := json.Marshal(map[string]any{
		"tenant_discovery_endpoint": s.authority + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []map[string]any{{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}},
	})
	writeJSON(w, 200, body)
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	body, _ := json.Marshal(map[string]any{"error": code, "error_description": desc, "error_codes": []int{}, "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z")})
	writeJSON(w, status, body)
}

// token is the v2.0 token endpoint for the client credentials grant (secret or certificate
// assertion).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		tokenError(w, 400, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		tokenError(w, 400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '"+gt+"'.")
		return
	}
	clientID := r.PostForm.Get("client_id")
	secret := r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = u, p
	}
	if clientID != s.clientID {
		tokenError(w, 400, "unauthorized_client", "AADSTS700016: Application with identifier '"+clientID+"' was not found in the directory.")
		return
	}
	switch {
	case r.PostForm.Get("client_assertion") != "":
		if msg := s.checkAssertion(clientID, r.PostForm.Get("client_assertion")); msg != "" {
			tokenError(w, 401, "invalid_client", msg)
			return
		}
	case secret != "":
		if subtle.ConstantTimeCompare([]byte(secret), []byte(s.clientSecret)) != 1 {
			tokenError(w, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
			return
		}
	default:
		tokenError(w, 401, "invalid_client", "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	scope := r.PostForm.Get("scope")
	var resource string
	for _, sc := range strings.Fields(scope) {
		if strings.HasSuffix(sc, "/.default") {
			resource = strings.TrimSuffix(strings.TrimSuffix(sc, "/.default"), "/")
		}
	}
	if resource != "" && resource != s.envURL {
		// a well-formed scope of another URL: Entra ID knows no such resource
		tokenError(w, 400, "invalid_resource", "AADSTS500011: The resource principal named "+resource+" was not found in the tenant named "+s.tenantID+
			". This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.")
		return
	}
	if resource != s.envURL {
		tokenError(w, 400, "invalid_scope", "AADSTS1002012: The provided value for scope "+scope+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
		return
	}
	now := time.Now()
	lifetime := s.opts.TokenLifetime
	tok := s.signJWT(map[string]any{
		"aud": s.envURL, "iss": "https://sts.windows.net/" + s.tenantID + "/", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(lifetime).Unix(), "appid": s.clientID, "azp": s.clientID, "oid": s.appUserOID, "sub": s.appUserOID,
		"tid": s.tenantID, "ver": "1.0", "idtyp": "app", "sim_gen": s.tokenGen.Load(),
	})
	s.stats.tokens.Add(1)
	body, _ := json.Marshal(map[string]any{"token_type": "Bearer", "expires_in": int(lifetime.Seconds()), "ext_expires_in": int(lifetime.Seconds()), "access_token": tok})
	writeJSON(w, 200, body)
}

// checkAssertion validates a client_assertion JWT signed by a certificate registered for
// the client (RS256 with x5t, or PS256 with x5t#S256 as MSAL Go sends).
func (s *Server) checkAssertion(clientID, assertion string) string {
	hdr, claims, signing, sig, err := parseJWT(assertion)
	if err != nil {
		return "AADSTS50027: JWT token is invalid or malformed."
	}
	s.mu.RLock()
	certs := s.certs[clientID]
	s.mu.RUnlock()
	alg, _ := hdr["alg"].(string)
	var match *x509.Certificate
	for _, c := range certs {
		t1 := sha1.Sum(c.Raw)
		t256 := sha256.Sum256(c.Raw)
		for _, key := range []string{"x5t", "x5t#S256"} {
			v, _ := hdr[key].(string)
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding, base64.URLEncoding} {
				if (key == "x5t" && v == enc.EncodeToString(t1[:])) || (key == "x5t#S256" && v == enc.EncodeToString(t256[:])) {
					match = c
				}
			}
		}
	}
	if match == nil {
		return "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application."
	}
	pub, ok := match.PublicKey.(*rsa.PublicKey)
	if !ok || verifyRSA(pub, alg, signing, sig) != nil {
		return "AADSTS700027: Client assertion failed signature validation."
	}
	if aud, _ := claims["aud"].(string); aud != s.authority+"/oauth2/v2.0/token" && aud != s.authority+"/oauth2/token" {
		return "AADSTS700016: The audience of the client assertion is not the token endpoint."
	}
	if iss, _ := claims["iss"].(string); iss != clientID {
		return "AADSTS700021: Client assertion issuer does not match the client id."
	}
	if numClaim(claims, "exp") <= time.Now().Unix() {
		return "AADSTS700024: Client assertion is not within its valid time range."
	}
	return ""
}

// AddCertificate registers a certificate for the client credentials flow with a
// client_assertion (the certificate's public key must be RSA). Registered certificates are
// accepted next to the client secret.
func (s *Server) AddCertificate(clientID string, cert *x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs[clientID] = append(s.certs[clientID], cert)
}
