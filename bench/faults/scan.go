package faults

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strings"
)

// ScanPANs finds card numbers in text: the given PANs anywhere, and any
// Luhn-valid run of 13–19 digits standing alone (not inside a longer run
// of letters and digits, such as an id or a hash). It returns each finding
// with its place, masked.
func ScanPANs(where, text string, pans []string) []string {
	var out []string
	for _, pan := range pans {
		if i := strings.Index(text, pan); i >= 0 {
			out = append(out, fmt.Sprintf("%s: test card %s…%s at byte %d", where, pan[:6], pan[len(pan)-4:], i))
		}
	}
	isAlnum := func(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }
	for i := 0; i < len(text); {
		if text[i] < '0' || text[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		run := text[i:j]
		alone := (i == 0 || !isAlnum(text[i-1])) && (j == len(text) || !isAlnum(text[j]))
		if alone && len(run) >= 13 && len(run) <= 19 && luhn(run) && !slices.Contains(pans, run) {
			out = append(out, fmt.Sprintf("%s: Luhn-valid number %s…%s at byte %d", where, run[:6], run[len(run)-4:], i))
		}
		i = j
	}
	return out
}

func luhn(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// scanDatabase reads every table of the seed's database as text and scans
// it (MySQL: every row of every table; SQLite: the file and its WAL).
func (r *rig) scanDatabase(ctx context.Context, db *sql.DB) ([]string, error) {
	if r.dialect == "sqlite" {
		var out []string
		for _, f := range []string{r.sqlite, r.sqlite + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			out = append(out, ScanPANs(f, string(b), TestPANs)...)
		}
		return out, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", r.dbName)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var t string
		if rows.Scan(&t) == nil {
			tables = append(tables, t)
		}
	}
	rows.Close()
	var out []string
	for _, t := range tables {
		// goose's table records each migration's version, a 14-digit
		// timestamp (20261206001616 happens to pass Luhn); it holds nothing
		// a request wrote, so no card number can reach it.
		if t == "goose_db_version" {
			continue
		}
		rows, err := db.QueryContext(ctx, "SELECT * FROM `"+t+"`")
		if err != nil {
			return out, err
		}
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var b strings.Builder
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				break
			}
			for _, v := range vals {
				b.Write(v)
				b.WriteByte('\n')
			}
		}
		rows.Close()
		out = append(out, ScanPANs("table "+t, b.String(), TestPANs)...)
	}
	return out, nil
}
