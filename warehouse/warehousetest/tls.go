package warehousetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tlsFiles are PEM files for a test server's TLS.
type tlsFiles struct {
	CA, Cert, Key string
}

// TLSServer is a clickhouse-server of its own that speaks the native
// protocol both plain and over TLS, with a certificate for 127.0.0.1 from
// a CA made for it.
type TLSServer struct {
	// PlainAddr and TLSAddr are host:port of the two native ports,
	// HTTPAddr of the HTTP port.
	PlainAddr, TLSAddr, HTTPAddr string
	// CAFile is the PEM of the CA that signed the server's certificate.
	CAFile string
}

// StartTLSServer starts a TLSServer and stops it when tb ends. It fails tb
// when no clickhouse-server can be started.
func StartTLSServer(tb testing.TB) TLSServer {
	tb.Helper()
	certs, err := makeCerts(tb.TempDir())
	if err != nil {
		tb.Fatalf("warehousetest: make TLS certificates: %v", err)
	}
	s, err := startServerWith(certs)
	if err != nil {
		tb.Fatalf("warehousetest: start a TLS clickhouse-server: %v", err)
	}
	tb.Cleanup(func() { _ = s.stop() })
	return TLSServer{
		PlainAddr: fmt.Sprintf("127.0.0.1:%d", s.tcpPort),
		TLSAddr:   fmt.Sprintf("127.0.0.1:%d", s.tlsPort),
		HTTPAddr:  fmt.Sprintf("127.0.0.1:%d", s.httpPort),
		CAFile:    certs.CA,
	}
}

// makeCerts writes a CA and a server certificate for 127.0.0.1 into dir.
func makeCerts(dir string) (*tlsFiles, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ampel test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	f := &tlsFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server.key")}
	for path, block := range map[string]*pem.Block{
		f.CA:   {Type: "CERTIFICATE", Bytes: caDER},
		f.Cert: {Type: "CERTIFICATE", Bytes: der},
		f.Key:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}
