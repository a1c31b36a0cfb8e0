package money

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"

	"github.com/straitpay/strait/payments"
)

func minors(parts []Amount) []int64 {
	out := make([]int64, len(parts))
	for i, p := range parts {
		out[i] = p.Minor
	}
	return out
}

func TestAllocateByLargestRemainder(t *testing.T) {
	tests := []struct {
		name   string
		minor  int64
		ratios []int64
		want   []int64
	}{
		{"even split with a leftover cent goes to the first part", 100, []int64{1, 1, 1}, []int64{34, 33, 33}},
		{"largest remainder wins over order", 100, []int64{1, 2, 2}, []int64{20, 40, 40}},
		{"fee split 70/30", 1001, []int64{70, 30}, []int64{701, 300}},
		{"remainders .5/.3/.2 give the unit to the largest", 10, []int64{15, 33, 52}, []int64{2, 3, 5}},
		{"zero ratio gets nothing", 5, []int64{0, 1, 1}, []int64{0, 3, 2}},
		{"negative amount splits like its magnitude", -100, []int64{1, 1, 1}, []int64{-34, -33, -33}},
		{"zero amount", 0, []int64{3, 4}, []int64{0, 0}},
		{"max int64 does not overflow", math.MaxInt64, []int64{1, 1}, []int64{4611686018427387904, 4611686018427387903}},
		{"min int64 does not overflow", math.MinInt64, []int64{1, 1}, []int64{-4611686018427387904, -4611686018427387904}},
		{"huge ratios", 7, []int64{math.MaxInt64 / 2, math.MaxInt64 / 2}, []int64{4, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := Must(tt.minor, "USD").Allocate(tt.ratios...)
			if err != nil {
				t.Fatal(err)
			}
			if got := minors(parts); !slices.Equal(got, tt.want) {
				t.Errorf("Allocate(%d, %v) = %v, want %v", tt.minor, tt.ratios, got, tt.want)
			}
		})
	}
}

func TestAllocateRejectsBadRatios(t *testing.T) {
	for _, ratios := range [][]int64{nil, {0, 0}, {1, -1}, {math.MaxInt64, 1}} {
		if _, err := Must(100, "USD").Allocate(ratios...); payments.ErrorCode(err) != payments.EINVALID {
			t.Errorf("Allocate(%v) error = %v, want EINVALID", ratios, err)
		}
	}
}

// checkAllocation asserts the allocation invariants: the parts sum exactly to the
// whole, and each part is its exact share rounded down or up (never further).
func checkAllocation(t *testing.T, minor int64, ratios []int64, parts []Amount) bool {
	t.Helper()
	sum := new(big.Int)
	total := new(big.Int)
	for _, r := range ratios {
		total.Add(total, big.NewInt(r))
	}
	for i, p := range parts {
		sum.Add(sum, big.NewInt(p.Minor))
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(minor), big.NewInt(ratios[i])), total)
		diff := new(big.Rat).Sub(new(big.Rat).SetInt64(p.Minor), exact)
		if diff.Abs(diff).Cmp(big.NewRat(1, 1)) >= 0 {
			t.Errorf("part %d of %d by %v = %d, exact share %s", i, minor, ratios, p.Minor, exact.FloatString(3))
			return false
		}
		if ratios[i] == 0 && p.Minor != 0 {
			t.Errorf("zero-ratio part %d got %d", i, p.Minor)
			return false
		}
	}
	if sum.Cmp(big.NewInt(minor)) != 0 {
		t.Errorf("parts of %d by %v sum to %s", minor, ratios, sum)
		return false
	}
	return true
}

func TestAllocatePartsAlwaysSumToTheWhole(t *testing.T) {
	f := func(minor int64, raw []uint32) bool {
		ratios := make([]int64, 0, len(raw)+1)
		for _, r := range raw {
			ratios = append(ratios, int64(r%1000))
		}
		ratios = append(ratios, 1) // never all zero
		parts, err := Must(minor, "EUR").Allocate(ratios...)
		if err != nil {
			t.Errorf("Allocate(%d, %v): %v", minor, ratios, err)
			return false
		}
		return checkAllocation(t, minor, ratios, parts)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000, Rand: nil}); err != nil {
		t.Error(err)
	}
}

func TestAllocateWithExtremeValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	extremes := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64}
	for i := 0; i < 500; i++ {
		minor := extremes[rng.IntN(len(extremes))]
		n := 1 + rng.IntN(6)
		ratios := make([]int64, n)
		for j := range ratios {
			ratios[j] = rng.Int64N(math.MaxInt64 / int64(n))
		}
		ratios[0]++
		parts, err := Must(minor, "JPY").Allocate(ratios...)
		if err != nil {
			t.Fatalf("Allocate(%d, %v): %v", minor, ratios, err)
		}
		if !checkAllocation(t, minor, ratios, parts) {
			return
		}
	}
}

func FuzzAllocate(f *testing.F) {
	f.Add(int64(100), int64(1), int64(1), int64(1))
	f.Add(int64(math.MinInt64), int64(3), int64(0), int64(7))
	f.Fuzz(func(t *testing.T, minor, r1, r2, r3 int64) {
		ratios := []int64{r1, r2, r3}
		parts, err := Must(minor, "USD").Allocate(ratios...)
		if err != nil {
			if payments.ErrorCode(err) != payments.EINVALID {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		checkAllocation(t, minor, ratios, parts)
	})
}
