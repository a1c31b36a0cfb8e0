package store

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// IsTransient reports whether err is a transaction losing a race with
// another: MySQL's deadlock (1213) or lock wait timeout (1205), SQLite's
// busy or locked database. Nothing of that transaction was committed, so it
// may run again.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}
