package versioned

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// parsed is a definition as a caller would parse it: its ref and body.
type parsed struct{ ref, body string }

func parseBody(f *File) (parsed, error) {
	if f.Body == "SELECT bad" {
		return parsed{}, &Error{Path: f.Path, Msg: "bad statement"}
	}
	return parsed{f.Ref(), f.Body}, nil
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	c, err := LoadCatalog(parseBody, tree(map[string]string{
		"win_rate/v1.sql": v1,
		"win_rate/v2.sql": v2,
		LockFile:          "win_rate/v1.sql " + Sum([]byte(v1)) + "\n",
	}))
	require.NoError(t, err)
	require.Equal(t, []string{"win_rate"}, c.IDs())
	require.Equal(t, []parsed{{"win_rate@v1", "SELECT 1"}, {"win_rate@v2", "SELECT 2"}}, c.Versions("win_rate"))
	require.Equal(t, []parsed{{"win_rate@v1", "SELECT 1"}}, c.Defaults(), "the released version is the default")
	require.Equal(t, c.Versions("win_rate"), c.All())
	d, err := c.Resolve("win_rate@v2")
	require.NoError(t, err)
	require.Equal(t, "SELECT 2", d.body)
	_, err = c.Resolve("win_rate@v3")
	require.Error(t, err)
	require.Nil(t, c.Versions("lost"))

	_, err = LoadCatalog(parseBody, tree(map[string]string{"win_rate/v1.sql": "/*\nid: win_rate\nversion: 1\n*/\nSELECT bad\n"}))
	var verr *Error
	require.True(t, errors.As(err, &verr), "the parser's error comes back: %v", err)
	require.Equal(t, "sql/kpis/win_rate/v1.sql: bad statement", err.Error())
}

func TestTrees(t *testing.T) {
	t.Parallel()
	require.Len(t, Trees("sql/kpis", nil, "", nil), 1, "no user directory")
	trees := Trees("sql/kpis", nil, "/home/me/kpis", nil)
	require.Equal(t, []string{"sql/kpis", "/home/me/kpis"}, []string{trees[0].Name, trees[1].Name})
}
