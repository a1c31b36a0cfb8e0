package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Row is the new values of some columns of one row, by column name. A nil
// value writes NULL; a map is stored as JSON, as ent stores JSON fields;
// times are written in UTC to the microsecond.
type Row map[string]any

// RowUpdate is a row's changes, by its id.
type RowUpdate struct {
	ID  string
	Set Row
}

// Execer runs a statement: an *ent.Tx, or a *sql.DB.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// UpdateRows writes each row's changes, and now as its updated_at, in one
// statement: UPDATE table SET col = CASE id WHEN ? THEN ? … ELSE col END, …
// WHERE id IN (…), on MySQL and SQLite alike. It bypasses ent's builders,
// which set one value for every row, and with them ent's hooks and privacy:
// the caller acts as the system, on rows its transaction holds locked. It
// returns the statement's result (on MySQL, RowsAffected counts the rows
// that changed).
func UpdateRows(ctx context.Context, x Execer, table string, rows []RowUpdate, now time.Time) (sql.Result, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	var cols []string
	for _, r := range rows {
		for c := range r.Set {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	slices.Sort(cols)
	var b strings.Builder
	args := make([]any, 0, len(rows)*(2*len(cols)+1)+1)
	b.WriteString("UPDATE " + table + " SET ")
	for _, c := range cols {
		if len(rows) == 1 {
			v, err := sqlValue(rows[0].Set[c])
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", table, c, err)
			}
			b.WriteString(c + " = ?, ")
			args = append(args, v)
			continue
		}
		b.WriteString(c + " = CASE id")
		for _, r := range rows {
			v, ok := r.Set[c]
			if !ok {
				continue
			}
			v, err := sqlValue(v)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", table, c, err)
			}
			b.WriteString(" WHEN ? THEN ?")
			args = append(args, r.ID, v)
		}
		b.WriteString(" ELSE " + c + " END, ")
	}
	b.WriteString("updated_at = ? WHERE id IN (")
	args = append(args, now.UTC().Truncate(time.Microsecond))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, r.ID)
	}
	b.WriteString(")")
	res, err := x.ExecContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", table, err)
	}
	return res, nil
}

// sqlValue is v as the driver stores it for ent.
func sqlValue(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return nil, nil
		}
		return json.Marshal(x)
	case time.Time:
		return x.UTC().Truncate(time.Microsecond), nil
	}
	return v, nil
}
