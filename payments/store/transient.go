package store

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// IsTransient reports whether err is a statement or transaction that lost a
// race with another and may be run again as it was, once rolled back: MySQL's
// deadlock (1213) and lock wait timeout (1205), and SQLite's busy and locked
// errors (another process holds the write lock past the busy timeout).
func IsTransient(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}
