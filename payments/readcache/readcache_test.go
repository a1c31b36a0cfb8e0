package readcache

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestValueReloadsWhenStaleOrInvalidated(t *testing.T) {
	now := time.Unix(0, 0)
	loads := 0
	fail := false
	v := New(time.Second, func() time.Time { return now }, func(context.Context) (int, error) {
		if fail {
			return 0, errors.New("down")
		}
		loads++
		return loads, nil
	})
	ctx := context.Background()
	get := func() int {
		t.Helper()
		n, err := v.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if get() != 1 || get() != 1 {
		t.Fatal("a fresh value was loaded again")
	}
	now = now.Add(time.Second)
	if get() != 2 {
		t.Fatal("a value as old as the TTL was served")
	}
	v.Invalidate()
	if get() != 3 {
		t.Fatal("an invalidated value was served")
	}
	v.Invalidate()
	fail = true
	if _, err := v.Get(ctx); err == nil {
		t.Fatal("a failed load returned no error")
	}
	fail = false
	if get() != 4 {
		t.Fatal("a failed load was cached")
	}
}
