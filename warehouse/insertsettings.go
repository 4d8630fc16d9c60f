package warehouse

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// InsertSetting is one engine setting that the INSERT of a batch runs
// with (see WithInsertSettings).
type InsertSetting struct {
	// Name is the setting's name: letters, digits and underscores.
	Name string
	// Value is its value.
	Value int64
}

type insertSettingsKey struct{}

// WithInsertSettings returns a context under which the batches that
// Store.PrepareInsert starts send their INSERT with settings, after the
// ones ctx already carries (a later one of the same name wins). The
// caller picks settings the engine knows (Dialect): an engine refuses a
// name it does not know, at PrepareInsert or at Send. Only the batch's
// INSERT gets them; Exec and Query ignore them.
func WithInsertSettings(ctx context.Context, settings ...InsertSetting) context.Context {
	if len(settings) == 0 {
		return ctx
	}
	all := slices.Clone(InsertSettings(ctx))
	for _, s := range settings {
		if i := slices.IndexFunc(all, func(h InsertSetting) bool { return h.Name == s.Name }); i >= 0 {
			all[i] = s
			continue
		}
		all = append(all, s)
	}
	return context.WithValue(ctx, insertSettingsKey{}, all)
}

// InsertSettings are the settings WithInsertSettings put into ctx, in
// order (nil if none). Drivers read them in PrepareInsert.
func InsertSettings(ctx context.Context) []InsertSetting {
	s, _ := ctx.Value(insertSettingsKey{}).([]InsertSetting)
	return s
}

// SettingsClause is the clause " SETTINGS a = 1, b = 2" of settings (""
// for none), for drivers that send it in the statement's text; a name
// that is not an identifier is an error.
func SettingsClause(settings []InsertSetting) (string, error) {
	if len(settings) == 0 {
		return "", nil
	}
	var b strings.Builder
	b.WriteString(" SETTINGS ")
	for i, s := range settings {
		if !ValidIdentifier(s.Name) {
			return "", fmt.Errorf("insert setting %q: use letters, digits and underscores only", s.Name)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.Name + " = " + strconv.FormatInt(s.Value, 10))
	}
	return b.String(), nil
}
