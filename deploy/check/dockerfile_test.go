package check

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"

	"github.com/ampel/ampel/warehouse/embedded"
)

// dockerfile is deploy/Dockerfile parsed as BuildKit parses it, lint
// warnings included.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs map[string]string
	warnings []string
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(path(t, "deploy", "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	res, err := parser.Parse(f)
	require.NoError(t, err)
	var d dockerfile
	for _, w := range res.Warnings {
		d.warnings = append(d.warnings, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		d.warnings = append(d.warnings, rule+": "+msg)
	}})
	stages, args, err := instructions.Parse(res.AST, lint)
	require.NoError(t, err)
	d.stages = stages
	d.metaArgs = map[string]string{}
	for _, a := range args {
		for _, kv := range a.Args {
			if kv.Value != nil {
				d.metaArgs[kv.Key] = *kv.Value
			}
		}
	}
	return d
}

func (d dockerfile) stage(t *testing.T, name string) instructions.Stage {
	t.Helper()
	for _, s := range d.stages {
		if s.Name == name {
			return s
		}
	}
	require.Failf(t, "no stage", "deploy/Dockerfile has no stage %q", name)
	return instructions.Stage{}
}

// expand replaces ${NAME} by the global build arguments.
func (d dockerfile) expand(s string) string {
	return os.Expand(s, func(k string) string { return d.metaArgs[k] })
}

// TestDockerfile checks deploy/Dockerfile as far as it can be without a
// Docker engine: BuildKit parses and lints it without a warning; its
// stages are the documented targets; every COPY takes from an earlier
// stage or from a path in the build context (the repository) that the
// ignore file leaves in; both final images run ampel as a non-root user;
// the libchdb stage uses deploy/install-libchdb.sh, whose pinned engine
// is the one the embedded driver expects, at the place the driver looks.
func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t)
	assert.Empty(t, d.warnings, "BuildKit's parser and linter warn")

	var names []string
	for _, s := range d.stages {
		names = append(names, s.Name)
	}
	require.Equal(t, []string{"build", "libchdb", "server", "embedded"}, names)
	assert.Equal(t, "embedded", d.stages[len(d.stages)-1].Name, "the default target is the last stage")

	// the Go toolchain of the image is the one go.mod asks for
	mod, err := modfile.ParseLax("go.mod", []byte(read(t, "go.mod")), nil)
	require.NoError(t, err)
	assert.Equal(t, mod.Go.Version, d.metaArgs["GO_VERSION"], "ARG GO_VERSION and go.mod's go line")
	assert.Equal(t, "golang:"+mod.Go.Version+"-bookworm", d.expand(d.stage(t, "build").BaseName))

	ignored := dockerIgnore(t)
	seen := map[string]bool{}
	for _, s := range d.stages {
		for _, c := range s.Commands {
			cp, ok := c.(*instructions.CopyCommand)
			if !ok {
				continue
			}
			if cp.From != "" {
				assert.True(t, seen[cp.From], "stage %s copies from %q, which is not an earlier stage", s.Name, cp.From)
				continue
			}
			for _, src := range cp.SourcePaths {
				if src == "." {
					continue
				}
				_, err := os.Stat(path(t, src))
				assert.NoError(t, err, "stage %s copies %s from the build context", s.Name, src)
				assert.False(t, ignored(src), "stage %s copies %s, which Dockerfile.dockerignore leaves out", s.Name, src)
			}
		}
		seen[s.Name] = true
	}
	assert.True(t, ignored(".git/config"), "the ignore file leaves .git out")
	assert.True(t, ignored("bin/ampel"), "the ignore file leaves built binaries out")

	// both binaries are built from cmd/ampel; the server one without cgo
	build := strings.Join(runs(d.stage(t, "build")), "\n")
	assert.Contains(t, build, "CGO_ENABLED=1 go build")
	assert.Contains(t, build, "CGO_ENABLED=0 go build")
	assert.Contains(t, build, "-X main.version=${VERSION}")
	assert.Contains(t, read(t, "cmd", "ampel", "version.go"), "var version =", "the variable -X main.version sets")
	assert.Equal(t, 2, strings.Count(build, "./cmd/ampel"))

	// libchdb: the script's pinned download, no other
	lib := d.stage(t, "libchdb")
	libRuns := strings.Join(runs(lib), "\n")
	assert.Contains(t, libRuns, "XDG_CACHE_HOME=/usr/local/lib /usr/local/bin/install-libchdb.sh")
	assert.NotContains(t, libRuns, "npm ", "the download is the script's (pinned, sha256-checked)")
	script := read(t, "deploy", "install-libchdb.sh")
	assert.Equal(t, embedded.EngineVersion, shellVar(t, script, "ENGINE_VERSION"), "the script installs the engine the driver is built for")
	assert.Regexp(t, `^[0-9a-f]{64}$`, shellVar(t, script, "SHA256"))
	assert.Regexp(t, `^`+regexp.QuoteMeta(embedded.EngineVersion)+`-`, shellVar(t, script, "PACKAGE_VERSION"))

	// the final images
	for _, name := range []string{"server", "embedded"} {
		s := d.stage(t, name)
		assert.True(t, strings.HasPrefix(s.BaseName, "gcr.io/distroless/"), "%s: %s", name, s.BaseName)
		assert.True(t, strings.HasSuffix(s.BaseName, ":nonroot"), "%s: %s", name, s.BaseName)
		var user, entry, cmd string
		for _, c := range s.Commands {
			switch c := c.(type) {
			case *instructions.UserCommand:
				user = c.User
			case *instructions.EntrypointCommand:
				entry = strings.Join(c.CmdLine, " ")
			case *instructions.CmdCommand:
				cmd = strings.Join(c.CmdLine, " ")
			}
		}
		assert.Equal(t, "65532:65532", user, name)
		assert.Equal(t, "/usr/local/bin/ampel", entry, name)
		assert.Equal(t, "run --config /etc/ampel/ampel.yaml", cmd, name)
	}
	assert.Equal(t, "gcr.io/distroless/static-debian12:nonroot", d.stage(t, "server").BaseName, "no C library for the CGO-free binary")
	assert.Contains(t, copies(d.stage(t, "server")), "build:/out/ampel-server -> /usr/local/bin/ampel")

	// the embedded image finds libchdb where the driver looks for it
	emb := d.stage(t, "embedded")
	assert.Contains(t, copies(emb), "build:/out/ampel -> /usr/local/bin/ampel")
	assert.Contains(t, copies(emb), "libchdb:/usr/local/lib/ampel -> /usr/local/lib/ampel")
	env := map[string]string{}
	for _, c := range emb.Commands {
		if e, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				env[kv.Key] = kv.Value
			}
		}
	}
	require.Equal(t, "/usr/local/lib", env["XDG_CACHE_HOME"])
	t.Setenv("XDG_CACHE_HOME", env["XDG_CACHE_HOME"])
	assert.Equal(t, "/usr/local/lib/ampel/libchdb-"+embedded.EngineVersion+"/libchdb.so", embedded.DefaultLibrary())
}

func runs(s instructions.Stage) []string {
	var out []string
	for _, c := range s.Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			out = append(out, strings.Join(r.CmdLine, " "))
		}
	}
	return out
}

// copies lists a stage's COPY --from instructions as "from:src -> dest".
func copies(s instructions.Stage) []string {
	var out []string
	for _, c := range s.Commands {
		if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
			for _, src := range cp.SourcePaths {
				out = append(out, cp.From+":"+src+" -> "+cp.DestPath)
			}
		}
	}
	return out
}

// shellVar returns the value of NAME="value" in a shell script.
func shellVar(t *testing.T, script, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `="([^"]*)"$`).FindStringSubmatch(script)
	require.NotNil(t, m, "%s= in the script", name)
	return m[1]
}

// dockerIgnore returns a matcher for deploy/Dockerfile.dockerignore (the
// ignore file docker build uses for deploy/Dockerfile), for the simple
// patterns it holds: a name or path, optionally under **/, with * in the
// last element.
func dockerIgnore(t *testing.T) func(string) bool {
	t.Helper()
	var patterns []string
	for _, line := range strings.Split(read(t, "deploy", "Dockerfile.dockerignore"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		require.NotContains(t, line, "!", "exceptions are not understood by this check")
		patterns = append(patterns, line)
	}
	return func(p string) bool {
		p = filepath.ToSlash(filepath.Clean(p))
		for _, pat := range patterns {
			anyDir := strings.HasPrefix(pat, "**/")
			pat = strings.TrimPrefix(pat, "**/")
			elems := strings.Split(p, "/")
			for i := range elems {
				if i > 0 && !anyDir {
					break
				}
				// the pattern matches this path or one of its parents
				for j := i + 1; j <= len(elems); j++ {
					if ok, _ := filepath.Match(pat, strings.Join(elems[i:j], "/")); ok {
						return true
					}
				}
			}
		}
		return false
	}
}
