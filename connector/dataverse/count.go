package dataverse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/ampel/ampel/odata"
)

// RecordCount estimates the number of rows of a table, for progress
// reporting. It asks RetrieveTotalRecordCount (a snapshot Dataverse
// refreshes about daily, not capped) and falls back to <entityset>/$count
// (exact but capped at 5,000 by Dataverse) where that function is missing;
// at the cap it returns an error rather than a wrong estimate.
// The entity set is taken from an earlier EntityDefinition call, or read.
func (c *Client) RecordCount(ctx context.Context, logicalName string) (int64, error) {
	if !logicalNameRE.MatchString(logicalName) {
		return 0, fmt.Errorf("dataverse: %q is not a table logical name", logicalName)
	}
	var r struct {
		EntityRecordCountCollection struct {
			Keys   []string
			Values []int64
		}
	}
	err := c.getJSON(ctx, c.base+"RetrieveTotalRecordCount(EntityNames=['"+logicalName+"'])", logicalName, &r, nil)
	if err == nil {
		for i, k := range r.EntityRecordCountCollection.Keys {
			if k == logicalName && i < len(r.EntityRecordCountCollection.Values) {
				return r.EntityRecordCountCollection.Values[i], nil
			}
		}
	}
	var ae *APIError
	if err != nil && !(errors.As(err, &ae) && (ae.Status == 400 || ae.Status == 404 || ae.Status == 501)) {
		return 0, fmt.Errorf("count %s: %w", logicalName, err)
	}
	set, err := c.entitySet(ctx, logicalName)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(ctx, call{method: http.MethodGet, url: c.base + set + "/" + odata.OptionCount, table: set})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", logicalName, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", logicalName, err)
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(string(body)), "\ufeff"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", logicalName, &APIError{Kind: ErrMalformed, Method: http.MethodGet, Path: resp.Request.URL.Path, Table: set, Message: "not a number"})
	}
	if n >= 5000 {
		// the cap, not the count: better no estimate than a wrong one
		return 0, fmt.Errorf("count %s: $count stops at 5000 and RetrieveTotalRecordCount is not available", logicalName)
	}
	return n, nil
}

// entitySet returns the entity set of a table, from the cache that
// EntityDefinition fills or by asking.
func (c *Client) entitySet(ctx context.Context, logicalName string) (string, error) {
	c.setsMu.Lock()
	set, ok := c.sets[logicalName]
	c.setsMu.Unlock()
	if ok {
		return set, nil
	}
	var raw struct{ EntitySetName string }
	if err := c.getJSON(ctx, c.base+"EntityDefinitions(LogicalName='"+logicalName+"')?"+odata.Query{Select: []string{"EntitySetName"}}.Encode(), logicalName, &raw, nil); err != nil {
		return "", fmt.Errorf("metadata of %s: %w", logicalName, err)
	}
	c.rememberSet(logicalName, raw.EntitySetName)
	return raw.EntitySetName, nil
}

func (c *Client) rememberSet(logicalName, set string) {
	c.setsMu.Lock()
	defer c.setsMu.Unlock()
	if c.sets == nil {
		c.sets = map[string]string{}
	}
	c.sets[logicalName] = set
}

// RecordCounts asks RetrieveTotalRecordCount for several tables in one
// request and returns the counts by logical name. It has no fallback: a
// server without the function answers an error, and the caller asks
// RecordCount per table.
func (c *Client) RecordCounts(ctx context.Context, names []string) (map[string]int64, error) {
	quoted := make([]string, len(names))
	for i, n := range names {
		if !logicalNameRE.MatchString(n) {
			return nil, fmt.Errorf("dataverse: %q is not a table logical name", n)
		}
		quoted[i] = "'" + n + "'"
	}
	var r struct {
		EntityRecordCountCollection struct {
			Keys   []string
			Values []int64
		}
	}
	if err := c.getJSON(ctx, c.base+"RetrieveTotalRecordCount(EntityNames=["+strings.Join(quoted, ",")+"])", "", &r, nil); err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	out := make(map[string]int64, len(names))
	for i, k := range r.EntityRecordCountCollection.Keys {
		if i < len(r.EntityRecordCountCollection.Values) {
			out[k] = r.EntityRecordCountCollection.Values[i]
		}
	}
	return out, nil
}
