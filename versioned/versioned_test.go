package versioned

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

const v1 = "/*\nid: win_rate\nversion: 1\ntitle: Win rate\n*/\nSELECT 1\n"
const v2 = "/* id: win_rate\nversion: 2\n*/\r\nSELECT 2\r\n"

func tree(files map[string]string) Tree {
	m := fstest.MapFS{}
	for name, text := range files {
		m[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return Tree{Name: "sql/kpis", FS: m}
}

func TestLoadVersionsAndDefault(t *testing.T) {
	t.Parallel()
	sum1 := Sum([]byte(v1))
	set, err := Load(tree(map[string]string{
		"win_rate/v1.sql": v1,
		"win_rate/v2.sql": v2,
		LockFile:          "# released\nwin_rate/v1.sql " + sum1 + "\n",
	}))
	require.NoError(t, err)
	require.Equal(t, []string{"win_rate"}, set.IDs())
	fs := set.Versions("win_rate")
	require.Len(t, fs, 2)
	require.True(t, fs[0].Released)
	require.False(t, fs[1].Released, "not in the lock: a draft")
	require.Equal(t, "SELECT 1", fs[0].Body)
	require.Equal(t, "SELECT 2", fs[1].Body, "CRLF normalised")
	require.Equal(t, Sum([]byte("/* id: win_rate\nversion: 2\n*/\nSELECT 2\n")), fs[1].Checksum, "checksum over LF text")

	def, err := set.Resolve("win_rate")
	require.NoError(t, err)
	require.Equal(t, 1, def.Version, "the newest released version is the default")
	f, err := set.Resolve("win_rate@v2")
	require.NoError(t, err)
	require.Equal(t, 2, f.Version)
	_, err = set.Resolve("win_rate@v3")
	require.EqualError(t, err, "no version 3 of win_rate (it has v1, v2)")
	_, err = set.Resolve("Win Rate")
	require.ErrorContains(t, err, "not a definition reference")

	// a header's lines are the file's lines
	title, line := lookup(fs[0].Header, "title")
	require.Equal(t, "Win rate", title.Value)
	require.Equal(t, 4, line)
}

func TestOnlyDraftsDefaultToNewest(t *testing.T) {
	t.Parallel()
	set, err := Load(tree(map[string]string{"win_rate/v1.sql": v1, "win_rate/v2.sql": v2}))
	require.NoError(t, err)
	require.Equal(t, 2, set.Default("win_rate").Version)
}

func TestChangedReleaseIsRefused(t *testing.T) {
	t.Parallel()
	sum1 := Sum([]byte(v1))
	_, err := Load(tree(map[string]string{
		"win_rate/v1.sql": v1 + "-- edited\n",
		LockFile:          "win_rate/v1.sql " + sum1 + "\n",
	}))
	var ce *ChecksumError
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, "sql/kpis/win_rate/v1.sql", ce.Path)
	require.Contains(t, err.Error(), sum1)
	require.Contains(t, err.Error(), Sum([]byte(v1+"-- edited\n")))

	_, err = Load(tree(map[string]string{LockFile: "win_rate/v1.sql " + sum1 + "\n"}))
	require.ErrorContains(t, err, "sql/kpis/win_rate/v1.sql is released")
	require.ErrorContains(t, err, "the file is gone")
}

func TestBadFiles(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		files map[string]string
		want  string
	}{
		"no header":      {map[string]string{"a/v1.sql": "SELECT 1"}, "sql/kpis/a/v1.sql:1: a definition starts with its YAML header"},
		"open comment":   {map[string]string{"a/v1.sql": "/* id: a\nSELECT 1"}, "sql/kpis/a/v1.sql:1: the header comment /* is never closed"},
		"wrong id":       {map[string]string{"a/v1.sql": "/*\nid: b\nversion: 1\n*/\nSELECT 1"}, `sql/kpis/a/v1.sql:2: id: "b" differs from the folder name a`},
		"wrong version":  {map[string]string{"a/v1.sql": "/*\nid: a\nversion: 2\n*/\nSELECT 1"}, `sql/kpis/a/v1.sql:3: version: "2" differs from the file name v1`},
		"bad yaml":       {map[string]string{"a/v1.sql": "/*\nid: a\nversion: 1\n  x: [\n*/\nSELECT 1"}, "sql/kpis/a/v1.sql:4: header is not valid YAML"},
		"bad id":         {map[string]string{"Win-Rate/v1.sql": v1}, "sql/kpis/Win-Rate: a definition id is snake_case"},
		"bad file name":  {map[string]string{"a/version1.sql": v1}, "sql/kpis/a/version1.sql: not a definition version"},
		"no statement":   {map[string]string{"a/v1.sql": "/*\nid: a\nversion: 1\n*/\n"}, "sql/kpis/a/v1.sql:4: no statement after the header"},
		"bad lock":       {map[string]string{"a/v1.sql": v1, LockFile: "a/v1.sql deadbeef\n"}, "sql/kpis/releases.lock:1: want"},
		"yaml no header": {map[string]string{"a/v1.yaml": "- 1\n"}, "sql/kpis/a/v1.yaml:1: the header is a YAML mapping"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tree(c.files))
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

func TestTwoTrees(t *testing.T) {
	t.Parallel()
	user := tree(map[string]string{"win_rate/v2.sql": v2})
	user.Name = "/home/me/kpis"
	set, err := Load(tree(map[string]string{"win_rate/v1.sql": v1}), user)
	require.NoError(t, err)
	require.Len(t, set.Versions("win_rate"), 2)
	require.Equal(t, "/home/me/kpis/win_rate/v2.sql", set.Versions("win_rate")[1].Path)

	_, err = Load(tree(map[string]string{"win_rate/v1.sql": v1}), Tree{Name: "/home/me/kpis", FS: fstest.MapFS{"win_rate/v1.sql": {Data: []byte(v1)}}})
	require.ErrorContains(t, err, "win_rate@v1 is defined twice")
}

func TestRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "win_rate"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "win_rate", "v1.sql"), []byte(v1), 0o644))
	line, err := Release(dir, "win_rate@v1")
	require.NoError(t, err)
	require.Equal(t, "win_rate/v1.sql "+Sum([]byte(v1)), line)
	set, err := Load(Tree{Name: dir, FS: os.DirFS(dir)})
	require.NoError(t, err)
	require.True(t, set.Default("win_rate").Released)
	_, err = Release(dir, "win_rate@v1")
	require.ErrorContains(t, err, "already released")
	_, err = Release(dir, "win_rate")
	require.ErrorContains(t, err, "name the version")
}
