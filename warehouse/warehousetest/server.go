package warehousetest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ServerBinaries are the places a clickhouse-server binary is looked for,
// in order, when AMPEL_TEST_CLICKHOUSE_DSN is not set; the first that
// exists is started. Debian's package installs the first.
var ServerBinaries = []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"}

// SetupCommand is the command that installs what the tests need.
const SetupCommand = "make test-deps"

// server is a clickhouse-server this test binary started.
type server struct {
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	tcpPort  int
	httpPort int
	tlsPort  int // 0 without TLS
}

func (s *server) dsn() string {
	return fmt.Sprintf("clickhouse://default@127.0.0.1:%d/default", s.tcpPort)
}

func findServerBinary() (string, error) {
	for _, p := range ServerBinaries {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("clickhouse-server not found (looked in %s and PATH); run `%s` to install it, "+
		"or set AMPEL_TEST_CLICKHOUSE_DSN to a server", strings.Join(ServerBinaries, ", "), SetupCommand)
}

// startServer starts clickhouse-server on free loopback ports in a new
// temporary directory and waits until it answers. It retries with other
// ports when the ones it picked were taken in the meantime.
func startServer() (*server, error) { return startServerWith(nil) }

// startServerWith starts a server; with certs it also listens for the
// native protocol over TLS (tcp_port_secure).
func startServerWith(certs *tlsFiles) (*server, error) {
	bin, err := findServerBinary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryStartServer(bin, certs)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStartServer(bin string, certs *tlsFiles) (*server, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ampel-clickhouse-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, tcpPort: ports[0], httpPort: ports[1], exited: make(chan struct{})}
	if certs != nil {
		s.tlsPort = ports[2]
	}
	if err := writeServerConfig(dir, s.tcpPort, s.httpPort, s.tlsPort, certs); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer out.Close()
	s.cmd = exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = out, out
	// dies with the test binary, even when that is killed
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(60 * time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls the server's HTTP /ping until it answers Ok.
func (s *server) waitReady(limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/ping", s.httpPort)
	deadline := time.Now().Add(limit)
	delay := 10 * time.Millisecond
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("clickhouse-server exited while starting: %s", s.logTail())
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			body := make([]byte, 16)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.HasPrefix(body[:n], []byte("Ok")) {
				return s.waitNative(deadline)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse-server did not answer on %s within %s: %s", url, limit, s.logTail())
		}
		time.Sleep(delay)
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// waitNative waits until the native ports (plain, and TLS when the
// server has one) accept connections too.
func (s *server) waitNative(deadline time.Time) error {
	for _, port := range []int{s.tcpPort, s.tlsPort} {
		if port == 0 {
			continue
		}
		if err := waitPort(port, deadline); err != nil {
			return err
		}
	}
	return nil
}

// waitPort waits until a loopback port accepts connections.
func waitPort(port int, deadline time.Time) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse-server native port %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) logTail() string {
	var parts []string
	for _, name := range []string{"stdout.log", "log/clickhouse-server.err.log"} {
		b, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil || len(b) == 0 {
			continue
		}
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		parts = append(parts, name+": "+strings.TrimSpace(string(b)))
	}
	if len(parts) == 0 {
		return "no output"
	}
	return strings.Join(parts, "; ")
}

// stop ends the server (SIGTERM, then SIGKILL after 15s) and removes its
// directory.
func (s *server) stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	return os.RemoveAll(s.dir)
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeServerConfig writes config.xml and users.xml for a throwaway server:
// loopback only, data under dir, user default without password, no
// interserver port, logs under dir/log. deploy/clickhouse-test/config.xml
// is the same file for deploy/with-test-clickhouse.sh.
func writeServerConfig(dir string, tcpPort, httpPort, tlsPort int, certs *tlsFiles) error {
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	tlsBlock := ""
	if certs != nil {
		tlsBlock = strings.NewReplacer("{{TLS_PORT}}", strconv.Itoa(tlsPort), "{{CERT}}", certs.Cert, "{{KEY}}", certs.Key).Replace(tlsXML)
	}
	r := strings.NewReplacer("{{DIR}}", dir, "{{TCP_PORT}}", strconv.Itoa(tcpPort), "{{HTTP_PORT}}", strconv.Itoa(httpPort), "{{TLS}}", tlsBlock)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(r.Replace(configXML)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o644)
}

const configXML = `<?xml version="1.0"?>
<!-- A throwaway ClickHouse server for Ampel's tests: loopback only, data in a temporary directory. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>{{DIR}}/log/clickhouse-server.log</log>
        <errorlog>{{DIR}}/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{TCP_PORT}}</tcp_port>
    <http_port>{{HTTP_PORT}}</http_port>
    <path>{{DIR}}/data/</path>
    <tmp_path>{{DIR}}/tmp/</tmp_path>
    <!-- read paths: an empty directory for file(), and no host for url(),
         remote() and s3() (18.16 ignores remote_url_allow_hosts; readonly=1
         refuses table functions there). See the warehouse package doc. -->
    <user_files_path>{{DIR}}/user_files/</user_files_path>
    <remote_url_allow_hosts></remote_url_allow_hosts>
    <format_schema_path>{{DIR}}/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>200</max_concurrent_queries>
    <max_connections>1024</max_connections>
    <mlock_executable>false</mlock_executable>
{{TLS}}</yandex>
`

// tlsXML adds the native protocol over TLS (TLSServer).
const tlsXML = `    <tcp_port_secure>{{TLS_PORT}}</tcp_port_secure>
    <openSSL>
        <server>
            <certificateFile>{{CERT}}</certificateFile>
            <privateKeyFile>{{KEY}}</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <disableProtocols>sslv2,sslv3</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>
`

const usersXML = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default></default></quotas>
</yandex>
`
