package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ampel/ampel/export"
	"github.com/ampel/ampel/warehouse"
)

// The local endpoint. The embedded engine admits one process per data
// directory: while ampel run or ampel serve holds it, ampel sql reaches
// the warehouse through that process instead, over a Unix socket in the
// data directory (LocalSocket). The directory is private to its owner
// (warehouse/embedded makes it 0700) and the socket is 0600, so only the
// user who runs Ampel can connect: the file system is the key. A
// statement runs under warehouse.ReadOnly, as ampel sql's own would.

// LocalSocket is the name of the local endpoint's socket in the embedded
// engine's data directory.
const LocalSocket = "ampel.sock"

// localPath is the one route of the local endpoint: POST the statement
// as the body, ?format=tsv|csv|json.
const localPath = "/local/sql"

// LocalRefusal is the JSON body of a local statement the warehouse
// refused or could not run (status 400 or 500).
type LocalRefusal struct {
	// Refused is set when the read-only checks refused the statement:
	// What and Reason are those of the *warehouse.RefusedError.
	Refused bool   `json:"refused"`
	What    string `json:"what,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Error is the message of any other failure.
	Error string `json:"error,omitempty"`
}

// ServeLocal listens on the socket at path and answers ampel sql there,
// and runs the commands Options.Commands takes (localcmd.go), until ctx
// ends. A socket left by a process that ended is replaced: the
// caller holds the data directory's lock, so no other process serves it.
func (s *Server) ServeLocal(ctx context.Context, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("local endpoint: remove the old socket: %w", err)
	}
	// the directory is private already; the socket is made private too
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("local endpoint: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("local endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(localPath, s.localSQL)
	mux.HandleFunc(localCmdPath, s.localCommand)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	s.log.Info("local endpoint", "path", path)
	select {
	case err := <-done:
		return fmt.Errorf("local endpoint: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	<-done
	_ = os.Remove(path)
	if err != nil {
		return fmt.Errorf("local endpoint: shut down: %w", err)
	}
	return nil
}

func (s *Server) localSQL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		localError(w, http.StatusMethodNotAllowed, LocalRefusal{Error: "POST the statement"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		localError(w, http.StatusBadRequest, LocalRefusal{Error: "read the statement: " + err.Error()})
		return
	}
	out, err := export.New(w, r.URL.Query().Get("format"))
	if err != nil {
		localError(w, http.StatusBadRequest, LocalRefusal{Error: err.Error()})
		return
	}
	rows, err := s.store.Query(warehouse.ReadOnly(r.Context()), string(body))
	var re *warehouse.RefusedError
	switch {
	case errors.As(err, &re):
		localError(w, http.StatusBadRequest, LocalRefusal{Refused: true, What: re.What, Reason: re.Reason})
		return
	case err != nil:
		localError(w, http.StatusBadRequest, LocalRefusal{Error: err.Error()})
		return
	}
	defer rows.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := export.Write(out, rows); err != nil {
		// rows were sent: end the answer broken, so the client does not
		// take a shorter result for the whole
		s.log.Error("local statement failed midway", "error", oneLine(err.Error()))
		panic(http.ErrAbortHandler)
	}
}

func localError(w http.ResponseWriter, status int, body LocalRefusal) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// LocalQuery runs query through the local endpoint at socket and writes
// its result in format to w. It returns ErrNoLocal when no process
// answers there; a statement the process refused comes back as the same
// *warehouse.RefusedError a local run returns.
func LocalQuery(ctx context.Context, socket, query, format string, w io.Writer) error {
	if _, err := os.Stat(socket); err != nil {
		return ErrNoLocal
	}
	client := localClient(socket)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://ampel"+localPath+"?format="+format, strings.NewReader(query))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return ErrNoLocal // a socket nobody listens on any more
		}
		return fmt.Errorf("the running ampel process (%s): %w", filepath.Dir(socket), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var lr LocalRefusal
		if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil {
			return fmt.Errorf("the running ampel process answered %s", resp.Status)
		}
		if lr.Refused {
			return &warehouse.RefusedError{What: lr.What, Reason: lr.Reason, Query: warehouse.ShortQuery(query)}
		}
		return errors.New(lr.Error)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("the running ampel process ended the result early: %w", err)
	}
	return nil
}

// localClient is an HTTP client whose every connection goes to socket.
func localClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}

// LocalServed reports whether a process serves the local endpoint at
// socket: ampel run, serve or demo, which hold the warehouse until they
// stop. A socket file left by a process that ended is not served.
func LocalServed(ctx context.Context, socket string) bool {
	if _, err := os.Stat(socket); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ErrNoLocal is LocalQuery's error when no process serves the socket.
var ErrNoLocal = errors.New("no running ampel process serves this warehouse")
