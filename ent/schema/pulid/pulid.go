// Package pulid makes Strait's public identifiers: a short type prefix, an
// underscore and a lower-case ULID, e.g. "pay_01jdz8k3q6v1y2m4n5p7r8s9t0".
//
// The ULID's first 48 bits are the creation time in milliseconds, so IDs sort by
// creation and keyset pagination over them is stable. The remaining 80 bits come
// from crypto/rand. Within one millisecond a process's IDs keep increasing, so
// rows made in one request (an audit entry after the change it records, two
// outbox events) keep their order; each step adds a random amount below 2^48,
// so knowing one ID still leaves a neighbour one of 2^48 candidates, and
// the first ID of every millisecond is a fresh 80-bit draw: IDs cannot be
// enumerated.
package pulid

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/oklog/ulid/v2"
)

// MaxLen bounds an ID's length: a prefix of up to 8 characters, "_" and 26 ULID
// characters, with room to spare.
const MaxLen = 40

// entropy is monotonic within a millisecond with random steps below
// stepBound (see the package comment), and safe for concurrent use. It
// reads crypto/rand through a buffer (guarded by the reader's lock): the
// same random bytes, fetched 4 KiB at a time. IDs are public, so random
// bytes waiting in memory give nothing away.
var entropy = &ulid.LockedMonotonicReader{MonotonicReader: ulid.Monotonic(bufio.NewReaderSize(rand.Reader, 4096), stepBound)}

// stepBound is 2^48−1, not a power of two: ulid's monotonic reader draws a
// step of as many whole bytes as the bound needs and retries while the draw
// is not below the bound; with 2^40 (six bytes drawn, top byte required to
// be zero) it retried about 256 times per ID, some 6 µs each. With 2^48−1
// one draw nearly always does.
const stepBound = 1<<48 - 1

// New returns a new ID with the given prefix.
func New(prefix string) string {
	ms := ulid.Timestamp(time.Now())
	id, err := ulid.New(ms, entropy)
	if err != nil {
		// The millisecond's random space ran out (after some 2^32 IDs):
		// start a fresh draw; order within this millisecond is lost, nothing else.
		id = ulid.MustNew(ms, rand.Reader)
	}
	return prefix + "_" + strings.ToLower(id.String())
}

// Prefix returns the type prefix of id ("pay" for "pay_01…") and whether id has
// the shape of a Strait ID at all.
func Prefix(id string) (string, bool) {
	prefix, rest, ok := strings.Cut(id, "_")
	if !ok || prefix == "" || len(rest) != ulid.EncodedSize {
		return "", false
	}
	if _, err := ulid.ParseStrict(strings.ToUpper(rest)); err != nil {
		return "", false
	}
	return prefix, true
}

// Mixin gives a schema its string primary key with the given prefix.
type Mixin struct {
	mixin.Schema
	prefix string
}

// MixinWithPrefix returns a Mixin that generates IDs with prefix.
func MixinWithPrefix(prefix string) Mixin {
	if strings.Contains(prefix, "_") || prefix == "" {
		panic(fmt.Sprintf("pulid: bad prefix %q", prefix))
	}
	return Mixin{prefix: prefix}
}

// Fields implements ent.Mixin.
func (m Mixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			MaxLen(MaxLen).
			NotEmpty().
			Immutable().
			DefaultFunc(func() string { return New(m.prefix) }),
	}
}

// Annotations implements ent.Mixin: the prefix, for code generation. The
// node(id:) table (ent/node_prefix.go) is generated from it, so a new entity
// is resolvable by its ID the moment it has a prefix.
func (m Mixin) Annotations() []schema.Annotation {
	return []schema.Annotation{Annotation{Prefix: m.prefix}}
}

// Annotation records a schema's ID prefix for code generation; read it in a
// template as .Annotations.PULID.prefix.
type Annotation struct {
	Prefix string `json:"prefix"`
}

// Name implements schema.Annotation.
func (Annotation) Name() string { return "PULID" }
