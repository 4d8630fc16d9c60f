package dataverse

import (
	"context"
	"fmt"
)

// CheckTable checks that the application user can sync a table: it reads
// the table's metadata, then one row the way a sync reads it (with change
// tracking requested when the table has it, which needs organization-level
// Read). It returns the metadata, and the error that says what is missing
// (ErrNotFound, ErrNoAppUser, ErrPrivilege, ErrChangeTrackingDisabled, …).
// ampel doctor runs it per table.
func (c *Client) CheckTable(ctx context.Context, logicalName string) (*Entity, error) {
	e, err := c.EntityDefinition(ctx, logicalName)
	if err != nil {
		return nil, err
	}
	r := c.Read(ctx, Query{EntitySet: e.EntitySetName, Select: []string{e.PrimaryIDAttribute}, TrackChanges: e.ChangeTrackingEnabled, PageSize: 1})
	defer r.Close()
	if _, err := r.Next(ctx); err != nil {
		return e, fmt.Errorf("check %s: %w", logicalName, err)
	}
	return e, nil
}
