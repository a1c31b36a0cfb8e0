package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/straitpay/strait/payments"
)

// TestClassifyTellsDatabaseFailuresFromBugs: a database failure that says
// nothing of the request (a lost or refused connection, a deadlock, a lock
// wait timeout, a server going away, the deadline, a commit whose outcome
// is unknown) is EUNAVAILABLE, with a message that says when the outcome is
// unknown; a server's refusal of the statement itself, a domain error and
// anything else come back unchanged.
func TestClassifyTellsDatabaseFailuresFromBugs(t *testing.T) {
	lostCommit := commitFailed(fmt.Errorf("exec: %w", mysql.ErrInvalidConn))
	cases := []struct {
		name        string
		err         error
		unavailable bool
		unknown     bool
	}{
		{"deadlock", &mysql.MySQLError{Number: 1213}, true, false},
		{"lock wait timeout", fmt.Errorf("lock: %w", &mysql.MySQLError{Number: 1205}), true, false},
		{"connection killed", &mysql.MySQLError{Number: 1927}, true, false},
		{"server gone away", &mysql.MySQLError{Number: 2006}, true, false},
		{"invalid connection", fmt.Errorf("query: %w", mysql.ErrInvalidConn), true, false},
		{"bad connection", driver.ErrBadConn, true, false},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, true, false},
		{"cut short", io.ErrUnexpectedEOF, true, false},
		{"a deadline (left to the transport)", fmt.Errorf("commit: %w", context.DeadlineExceeded), false, false},
		{"sqlite busy", errors.New("database is locked (5) (SQLITE_BUSY)"), true, false},
		{"a commit whose answer was lost", fmt.Errorf("commit: %w", lostCommit), true, true},
		{"a commit the server refused", commitFailed(&mysql.MySQLError{Number: 1062}), false, false},
		{"duplicate key", &mysql.MySQLError{Number: 1062}, false, false},
		{"a bug", errors.New("nil map"), false, false},
		{"a domain error", payments.Errorf(payments.ECONFLICT, "no"), false, false},
	}
	for _, c := range cases {
		got := Classify(c.err)
		var pe *payments.Error
		isUnavailable := errors.As(got, &pe) && pe.Code == payments.EUNAVAILABLE
		if isUnavailable != c.unavailable || OutcomeUnknown(c.err) != c.unknown {
			t.Errorf("%s: Classify = %v, unknown %v", c.name, got, OutcomeUnknown(c.err))
			continue
		}
		if !c.unavailable && got != c.err {
			t.Errorf("%s: changed to %v", c.name, got)
		}
		if c.unavailable && (!errors.Is(got, c.err) || (c.unknown != (pe.Message == "the outcome is not known yet; try again with the same idempotency key"))) {
			t.Errorf("%s: %q, cause kept %v", c.name, pe.Message, errors.Is(got, c.err))
		}
	}
}
