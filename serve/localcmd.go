package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Commands through the local endpoint. ampel kpi, ampel audit and ampel
// score write to the warehouse, and only the process that holds the
// embedded engine may: while one does, those commands send their command
// line to it over the local socket, it runs them in-process with its own
// config and Store, and their output and exit code stream back. Which
// command lines it takes is the caller's to decide (Options.Commands);
// the socket's access control is the file system's, as for ampel sql.

// LocalCommand runs one command line (the command and its arguments,
// without the program name) for a client of the local endpoint, writing
// its output to stdout and stderr, and returns its exit code. It refuses
// a command line it does not run for others itself, with a line on
// stderr and an exit code.
type LocalCommand func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// localCmdPath is the local endpoint's route for commands: POST a
// localRequest; the answer is a stream of frames (see frameWriter).
const localCmdPath = "/local/command"

// localRequest is the body of a command sent to the local endpoint.
type localRequest struct {
	Args []string `json:"args"`
}

// Frame kinds of a command's answer: a frame is its kind (one byte), the
// length of its payload (4 bytes, big-endian) and the payload. The exit
// frame, the decimal exit code, is the last.
const (
	frameStdout byte = 'o'
	frameStderr byte = 'e'
	frameExit   byte = 'x'
)

// frameWriter writes one stream of a command's output as frames on the
// answer, flushing each, so that the client sees output as it comes.
type frameWriter struct {
	mu   *sync.Mutex
	w    io.Writer
	kind byte
	err  *error
}

func (f frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *f.err != nil {
		return 0, *f.err
	}
	if err := writeFrame(f.w, f.kind, p); err != nil {
		*f.err = err
		return 0, err
	}
	return len(p), nil
}

func writeFrame(w io.Writer, kind byte, p []byte) error {
	var head [5]byte
	head[0] = kind
	binary.BigEndian.PutUint32(head[1:], uint32(len(p)))
	if _, err := w.Write(head[:]); err != nil {
		return err
	}
	if _, err := w.Write(p); err != nil {
		return err
	}
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	return nil
}

func (s *Server) localCommand(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		localError(w, http.StatusMethodNotAllowed, LocalRefusal{Error: "POST the command"})
		return
	}
	if s.commands == nil {
		localError(w, http.StatusNotFound, LocalRefusal{Error: "this process runs no commands for others"})
		return
	}
	var req localRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		localError(w, http.StatusBadRequest, LocalRefusal{Error: "read the command: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	var mu sync.Mutex
	var werr error
	stdout := frameWriter{mu: &mu, w: w, kind: frameStdout, err: &werr}
	stderr := frameWriter{mu: &mu, w: w, kind: frameStderr, err: &werr}
	s.log.Info("local command", "command", commandName(req.Args))
	code := s.commands(r.Context(), req.Args, stdout, stderr)
	mu.Lock()
	defer mu.Unlock()
	if werr == nil {
		werr = writeFrame(w, frameExit, []byte(strconv.Itoa(code)))
	}
	if werr != nil {
		s.log.Warn("local command: the client left", "command", commandName(req.Args), "error", oneLine(werr.Error()))
	}
}

// commandName is the command and its subcommand for the log: no flag
// values, which may be anything.
func commandName(args []string) string {
	name := ""
	for i, a := range args {
		if i > 1 || len(a) > 0 && a[0] == '-' {
			break
		}
		if name != "" {
			name += " "
		}
		name += a
	}
	return name
}

// LocalRun runs the command line args in the process that serves the
// local endpoint at socket, copies its output to stdout and stderr as it
// comes, and returns its exit code. It returns ErrNoLocal when no process
// answers there.
func LocalRun(ctx context.Context, socket string, args []string, stdout, stderr io.Writer) (int, error) {
	if _, err := os.Stat(socket); err != nil {
		return 0, ErrNoLocal
	}
	body, err := json.Marshal(localRequest{Args: args})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://ampel"+localCmdPath, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := localClient(socket).Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, ErrNoLocal // a socket nobody listens on any more
		}
		return 0, fmt.Errorf("the running ampel process (%s): %w", filepath.Dir(socket), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var lr LocalRefusal
		if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil || lr.Error == "" {
			return 0, fmt.Errorf("the running ampel process answered %s", resp.Status)
		}
		return 0, fmt.Errorf("the running ampel process: %s", lr.Error)
	}
	br := bufio.NewReader(resp.Body)
	for {
		var head [5]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return 0, fmt.Errorf("the running ampel process ended the command early: %w", err)
		}
		p := make([]byte, binary.BigEndian.Uint32(head[1:]))
		if _, err := io.ReadFull(br, p); err != nil {
			return 0, fmt.Errorf("the running ampel process ended the command early: %w", err)
		}
		switch head[0] {
		case frameStdout:
			_, err = stdout.Write(p)
		case frameStderr:
			_, err = stderr.Write(p)
		case frameExit:
			code, err := strconv.Atoi(string(p))
			if err != nil {
				return 0, fmt.Errorf("the running ampel process sent the exit code %q", p)
			}
			return code, nil
		default:
			return 0, fmt.Errorf("the running ampel process sent a frame of unknown kind %q", head[0])
		}
		if err != nil {
			return 0, fmt.Errorf("write the command's output: %w", err)
		}
	}
}
