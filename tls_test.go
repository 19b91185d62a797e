package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA issues certificates for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peekroute test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key for 127.0.0.1 signed by the CA.
func (ca *testCA) issue(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TLS on both sides: clients reach peekroute over TLS with its certificate,
// and peekroute reaches an https backend verified against the given CA.
func TestTLSBothSides(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", ca.pem)
	certPEM, keyPEM := ca.issue(t, 2)
	certFile, keyFile := writeFile(t, dir, "cert.pem", certPEM), writeFile(t, dir, "key.pem", keyPEM)

	backendCert, backendKey := ca.issue(t, 3)
	pair, err := tls.X509KeyPair(backendCert, backendKey)
	if err != nil {
		t.Fatal(err)
	}
	var sawProto, sawBody string
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sawProto, sawBody = r.Header.Get("X-Forwarded-Proto"), string(body)
		io.WriteString(w, "secure")
	}))
	backend.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	backend.Config.ErrorLog = log.New(io.Discard, "", 0) // TCP health checks end without a handshake
	backend.StartTLS()
	defer backend.Close()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	// A client that would take HTTP/2 if offered.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	send := func(url string) (int, string) {
		body := "<sessionId>tls-1</sessionId>"
		resp, err := client.Post(url+"/x", "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}

	t.Run("verified", func(t *testing.T) {
		inst := startInstance(t, newEvents(), "PEEKROUTE_BACKENDS="+backend.URL, "PEEKROUTE_TLS_CERT_FILE="+certFile,
			"PEEKROUTE_TLS_KEY_FILE="+keyFile, "PEEKROUTE_BACKEND_CA_FILE="+caFile)
		url := strings.Replace(inst.url, "http://", "https://", 1)
		if status, body := send(url); status != http.StatusOK || body != "secure" {
			t.Errorf("got %d %q, want 200 secure", status, body)
		}
		if sawProto != "https" || sawBody != "<sessionId>tls-1</sessionId>" {
			t.Errorf("backend saw X-Forwarded-Proto %q body %q", sawProto, sawBody)
		}
		if resp, err := http.Get(inst.url + "/x"); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("plain HTTP on the TLS listener got %d, want 400", resp.StatusCode)
			}
		}
	})
	t.Run("backend certificate from an unknown CA", func(t *testing.T) {
		inst := startInstance(t, newEvents(), "PEEKROUTE_BACKENDS="+backend.URL, "PEEKROUTE_TLS_CERT_FILE="+certFile,
			"PEEKROUTE_TLS_KEY_FILE="+keyFile)
		url := strings.Replace(inst.url, "http://", "https://", 1)
		if status, _ := send(url); status != http.StatusBadGateway {
			t.Errorf("got %d, want 502 when the backend's certificate cannot be verified", status)
		}
	})
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.pem", []byte("not a certificate"))
	base := []string{"PEEKROUTE_BACKENDS=https://a", "PEEKROUTE_KEY=xml:s"}
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{append(base, "PEEKROUTE_TLS_CERT_FILE="+bad), "PEEKROUTE_TLS_CERT_FILE"},
		{append(base, "PEEKROUTE_TLS_CERT_FILE="+bad, "PEEKROUTE_TLS_KEY_FILE="+bad), "PEEKROUTE_TLS_CERT_FILE"},
		{append(base, "PEEKROUTE_BACKEND_CA_FILE="+bad), "PEEKROUTE_BACKEND_CA_FILE: no PEM certificate"},
		{append(base, "PEEKROUTE_BACKEND_CA_FILE="+filepath.Join(dir, "missing")), "PEEKROUTE_BACKEND_CA_FILE"},
	} {
		if _, err := loadConfig(tt.env); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.env[2:], err, tt.want)
		}
	}
}

func TestHealthcheckCommand(t *testing.T) {
	inst := startInstance(t, newEvents(), "PEEKROUTE_BACKENDS=http://127.0.0.1:1")
	admin := strings.TrimPrefix(inst.admin, "http://")
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"healthcheck"}, []string{"PEEKROUTE_ADMIN_ADDR=" + admin}, io.Discard, &stderr); code != exitOK {
		t.Errorf("healthcheck against a live peekroute exited %d: %s", code, stderr.String())
	}
	inst.stop()
	if code := run(t.Context(), []string{"healthcheck"}, []string{"PEEKROUTE_ADMIN_ADDR=" + admin}, io.Discard, io.Discard); code != exitFailed {
		t.Errorf("healthcheck against a stopped peekroute exited %d, want %d", code, exitFailed)
	}
}
