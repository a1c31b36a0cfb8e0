// Package bench holds Strait's benchmarks. Each prints its figures and the
// ratios its goal is stated in; run them with `make bench`.
package bench

import (
	"slices"
	"time"
)

// percentile returns the p-th percentile of d (which it sorts).
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := (len(d) - 1) * p / 100
	return d[i]
}
