package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
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

// IsConflict reports whether a failed transaction lost a race with a
// concurrent one and may simply run again: a deadlock or lock wait
// (IsTransient), or a unique key another transaction inserted first (the
// next run finds its row). A coded error (*payments.Error) is the work's
// own answer, never a conflict.
func IsConflict(err error) bool {
	var e *payments.Error
	if errors.As(err, &e) {
		return false
	}
	return ent.IsConstraintError(err) || IsTransient(err)
}

// ConflictWait is how long a transaction that lost a race waits before its
// attempt-th retry: a linear step plus up to as much again at random, so
// that two transactions that deadlocked do not meet again at the same
// moment.
func ConflictWait(attempt int) time.Duration {
	step := time.Duration(attempt) * 5 * time.Millisecond
	return step + rand.N(step)
}

// unavailableNumbers are the MySQL/MariaDB server errors that say the
// database could not do the work now, not that the work is wrong: a race
// lost (1205 lock wait timeout, 1213 deadlock), the server busy or going
// away (1040 too many connections, 1053 shutdown in progress, 4031 an idle
// connection dropped), the connection killed or interrupted (1927
// connection killed, 1317 query interrupted, 1158–1161 network errors),
// and the client library's own codes for a lost server (2006 gone away,
// 2013 lost during query), which proxies and other drivers pass on.
var unavailableNumbers = map[uint16]bool{
	1205: true, 1213: true, 1040: true, 1053: true, 4031: true,
	1927: true, 1317: true, 1158: true, 1159: true, 1160: true, 1161: true,
	2006: true, 2013: true,
}

// IsUnavailable reports whether err is a database failure that says
// nothing of the request: a race lost (IsTransient), the connection lost or
// refused (driver.ErrBadConn, mysql.ErrInvalidConn, a network error, the
// server's own codes for it), the database's deadline passed, or a COMMIT
// whose outcome is unknown (OutcomeUnknown). Running the request again
// later may succeed; it must be safe to run again, since the work may have
// been done (OutcomeUnknown).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if OutcomeUnknown(err) || IsTransient(err) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return unavailableNumbers[me.Number]
	}
	return isConnectionLost(err) || errors.Is(err, context.DeadlineExceeded)
}

// isConnectionLost reports whether err is the connection to the database
// failing under a statement: broken, reset, refused, cut short.
func isConnectionLost(err error) bool {
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne)
}

// ErrOutcomeUnknown marks a COMMIT that was sent and whose answer never
// came back (the connection lost, the deadline passed): the transaction may
// have been committed or not. Nothing that depends on it having failed may
// run (a retry of its writes on another connection would find them done),
// and no answer that depends on either may be stored as final: a later
// request finds out which it was by reading.
var ErrOutcomeUnknown = errors.New("store: the commit's outcome is unknown")

// OutcomeUnknown reports whether err comes from a COMMIT whose outcome is
// unknown (ErrOutcomeUnknown).
func OutcomeUnknown(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }

// commitFailed is the error of a COMMIT round trip that failed with err. A
// server that answered with an error ran nothing of the round trip from the
// failed statement on, COMMIT included: the transaction was not committed.
// Any other failure (the connection, the deadline) leaves the outcome
// unknown.
func commitFailed(err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return err
	}
	return errors.Join(ErrOutcomeUnknown, err)
}

// Classify returns err as the domain sees it: a database failure that
// IsUnavailable is an EUNAVAILABLE *payments.Error (wrapping err, for the
// log) whose message says whether the outcome is unknown; anything else,
// a domain error included, comes back unchanged. A deadline that passed is
// left to the transport, which answers it as unavailable too ("the request
// took too long"): it need not be the database's. Transports call it before
// mapping codes, so that a lost connection, a deadlock or a commit with an
// unknown outcome is never answered as a bug (EINTERNAL) or a bad
// credential (EUNAUTHORIZED).
func Classify(err error) error {
	var pe *payments.Error
	switch {
	case err == nil, errors.As(err, &pe):
		return err
	case OutcomeUnknown(err):
		return &payments.Error{Code: payments.EUNAVAILABLE, Err: err,
			Message: "the outcome is not known yet; try again with the same idempotency key"}
	case IsUnavailable(err) && !errors.Is(err, context.DeadlineExceeded):
		return &payments.Error{Code: payments.EUNAVAILABLE, Err: err, Message: "the database is unavailable; try again"}
	}
	return err
}
