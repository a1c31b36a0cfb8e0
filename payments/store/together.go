package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/straitpay/strait/ent"
)

// A Read is one ent query, made with the context and on the client it is
// given: a read of ReadTogether. It should keep what it reads. On MySQL it
// is called twice: once on a client that only learns its SQL (the query
// fails), then for real. It must make one query only: no eager loading
// (With…), which MySQL refuses with an error.
type Read func(ctx context.Context, c *ent.Client) error

// ReadTogether runs reads on client (the pool's, or a transaction's
// tx.Client()) in one round trip on MySQL: their SELECTs go as one
// multi-statement query, in order, and each read scans its own result set
// with ent's own code, so what it reads is what it would have read alone.
// In a pipelined transaction the round trip also carries START TRANSACTION
// or the statements deferred before it. Locking reads (FOR UPDATE) lock in
// the order given.
//
// When a read makes no query, or writes, the reads run one after the other,
// as they do on SQLite and for a single read. The first error stops the rest;
// a read's error is returned as it returned it, and an error of the joined
// query is returned by the read it belongs to.
func ReadTogether(ctx context.Context, client *ent.Client, sqlDialect string, reads ...Read) error {
	if sqlDialect != dialect.MySQL || len(reads) < 2 {
		return readEach(ctx, client, reads)
	}
	capture := &captureDriver{}
	cc := ent.NewClient(ent.Driver(capture))
	cctx := context.WithValue(ctx, captureKey{}, capture)
	pf := &prefetch{}
	for _, r := range reads {
		*capture = captureDriver{}
		err := r(cctx, cc)
		want := 1
		if capture.joined > 0 {
			want = capture.joined
		}
		if capture.wrote || len(capture.queries) != want || (err != nil && !errors.Is(err, errCaptured)) {
			return readEach(ctx, client, reads)
		}
		pf.queries = append(pf.queries, capture.queries...)
		pf.args = append(pf.args, capture.args...)
	}
	defer pf.close()
	if err := readEach(context.WithValue(ctx, prefetchKey{}, pf), client, reads); err != nil {
		return err
	}
	return pf.close()
}

func readEach(ctx context.Context, client *ent.Client, reads []Read) error {
	for _, r := range reads {
		if err := r(ctx, client); err != nil {
			return err
		}
	}
	return nil
}

type prefetchKey struct{}

// prefetch is the joined query of ReadTogether's reads, sent by the first
// of them and handed out one result set per read by the driver (servePrefetched).
type prefetch struct {
	queries []string
	args    []any
	next    int // the read to serve next
	rows    *sql.Rows
	closed  bool
}

// servePrefetched answers query from the prefetch in ctx, if any and if
// query is the read it expects next: the first read sends the joined query
// with run, the others take the next result set. handled is false when
// the query is not the prefetch's: the caller runs it as usual.
func servePrefetched(ctx context.Context, run func(context.Context, string, ...any) (*sql.Rows, error),
	query string, v any) (handled bool, err error) {
	pf, _ := ctx.Value(prefetchKey{}).(*prefetch)
	if pf == nil || pf.closed {
		return false, nil
	}
	if pf.next >= len(pf.queries) || query != pf.queries[pf.next] {
		if pf.rows != nil {
			// The connection is busy with the joined result sets.
			return true, errors.New("store: a read of ReadTogether made another query the second time")
		}
		return false, nil
	}
	out, ok := v.(*entsql.Rows)
	if !ok {
		return true, fmt.Errorf("store: unexpected rows %T", v)
	}
	if pf.rows == nil {
		rows, err := run(ctx, strings.Join(pf.queries, ";\n"), pf.args...)
		if err != nil {
			pf.closed = true
			return true, err
		}
		pf.rows = rows
	} else if !pf.rows.NextResultSet() {
		err := pf.rows.Err()
		if err == nil {
			err = fmt.Errorf("store: read %d of %d has no result set", pf.next+1, len(pf.queries))
		}
		return true, err
	}
	pf.next++
	*out = entsql.Rows{ColumnScanner: resultSet{pf.rows}}
	return true, nil
}

// close releases the joined result sets (and their connection) and
// returns their error.
func (pf *prefetch) close() error {
	if pf.closed {
		return nil
	}
	pf.closed = true
	if pf.rows == nil {
		return nil
	}
	err := pf.rows.Err()
	return errors.Join(err, pf.rows.Close())
}

// resultSet is one result set of rows shared by several reads: closing it
// leaves the rest to the next read.
type resultSet struct{ *sql.Rows }

func (resultSet) Close() error { return nil }

var errCaptured = errors.New("store: query captured")

// Join returns reads as one Read, run in order: a read of ReadTogether
// that is several (each of one query), so that a package can hand its
// caller one read however many queries it needs. It stops at the first
// error.
func Join(reads ...Read) Read {
	return func(ctx context.Context, c *ent.Client) error {
		capture, _ := ctx.Value(captureKey{}).(*captureDriver)
		for _, r := range reads {
			before := 0
			if capture != nil {
				before = len(capture.queries)
			}
			err := r(ctx, c)
			if capture != nil && errors.Is(err, errCaptured) {
				if len(capture.queries) != before+1 {
					capture.wrote = true // not one query: the reads run each alone
				}
				continue
			}
			if err != nil {
				return err
			}
		}
		if capture != nil {
			capture.joined = len(reads)
			return errCaptured
		}
		return nil
	}
}

// captureKey marks the context of ReadTogether's first pass, in which
// Join's reads each learn their query.
type captureKey struct{}

// captureDriver learns the SQL of a read: it records the query and fails
// it (a Join records one query per read it joins).
type captureDriver struct {
	queries []string
	args    []any
	wrote   bool // a write, or not one query a read: the reads run each alone
	joined  int  // the reads of a Join
}

func (d *captureDriver) Query(_ context.Context, query string, args, _ any) error {
	d.queries = append(d.queries, query)
	a, _ := args.([]any)
	d.args = append(d.args, a...)
	return errCaptured
}

func (d *captureDriver) Exec(context.Context, string, any, any) error {
	d.wrote = true // not a read
	return errCaptured
}
func (d *captureDriver) Tx(context.Context) (dialect.Tx, error) { return nil, errCaptured }
func (d *captureDriver) Close() error                           { return nil }
func (d *captureDriver) Dialect() string                        { return dialect.MySQL }
