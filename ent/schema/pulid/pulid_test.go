package pulid

import (
	"strings"
	"sync"
	"testing"
)

func TestIDsAreOrderedWithinAProcessAndHardToGuess(t *testing.T) {
	const n = 20000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = New("pay")
	}
	for i := 1; i < n; i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("id %d (%s) does not sort after %s", i, ids[i], ids[i-1])
		}
		if prefix, ok := Prefix(ids[i]); !ok || prefix != "pay" {
			t.Fatalf("Prefix(%s) = %q, %v", ids[i], prefix, ok)
		}
	}
	// Neighbours differ by a random step, never by one: the low bits of
	// consecutive IDs are not a counter.
	same := 0
	for i := 1; i < n; i++ {
		if ids[i][len(ids[i])-4:] == ids[i-1][len(ids[i-1])-4:] {
			same++
		}
	}
	if same > n/100 {
		t.Fatalf("%d of %d neighbours share their last 4 characters", same, n)
	}
}

func TestIDsAreUniqueUnderConcurrency(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				id := New("evt")
				mu.Lock()
				if seen[id] {
					t.Errorf("duplicate %s", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestPrefixRefusesMalformedIDs(t *testing.T) {
	for _, id := range []string{"", "pay", "pay_", "_01jd", "pay_" + strings.Repeat("z", 26), "pay_../../etc/passwd"} {
		if _, ok := Prefix(id); ok {
			t.Errorf("Prefix(%q) accepted", id)
		}
	}
}

// BenchmarkNew is the cost of one ID, from several goroutines at once.
func BenchmarkNew(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = New("pay")
		}
	})
}
