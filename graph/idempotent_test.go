package graph

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestStoredResponsesReencodeByteForByte proves the replay path: a response
// marshaled as the transport marshals it, decoded and marshaled again, gives
// the same bytes, including errors with paths and extensions, and text that
// encoding/json escapes.
func TestStoredResponsesReencodeByteForByte(t *testing.T) {
	for _, resp := range []*graphql.Response{
		{Data: json.RawMessage(`{"convertBalance":{"entryID":"jrn_01","to":{"amount":"15049","decimal":"15049"}}}`)},
		{Data: json.RawMessage(`{"refund":{"reason":"<script>&\u2028 ünïcode 🎉"}}`)},
		{
			Data: json.RawMessage(`null`),
			Errors: gqlerror.List{{
				Message:    `amount 90000 exceeds the available balance of "USD" <40000>`,
				Path:       ast.Path{ast.PathName("convertBalance"), ast.PathIndex(3), ast.PathName("to")},
				Locations:  []gqlerror.Location{{Line: 2, Column: 3}},
				Extensions: map[string]any{"code": "CONFLICT", "field": "amount", "limit": 40000},
			}},
		},
	} {
		first, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var stored graphql.Response
		if err := json.Unmarshal(first, &stored); err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(&stored)
		if !bytes.Equal(first, again) {
			t.Errorf("re-encoded\n%s\nwant\n%s", again, first)
		}
	}
}

func TestOnlyDecidedOutcomesAreStored(t *testing.T) {
	withCodes := func(codes ...string) *graphql.Response {
		r := &graphql.Response{Data: json.RawMessage(`null`)}
		for _, c := range codes {
			r.Errors = append(r.Errors, &gqlerror.Error{Message: c, Extensions: map[string]any{"code": c}})
		}
		return r
	}
	for _, tt := range []struct {
		resp  *graphql.Response
		store bool
	}{
		{withCodes(), true},
		{withCodes(CodeConflict), true},
		{withCodes(CodeNotFound), true},
		{withCodes(CodeBadUserInput), false},
		{withCodes(CodeInternal), false},
		{withCodes(CodeUnavailable), false},
		{withCodes(CodeRateLimited), false},
		{withCodes(CodeConflict, CodeInternal), false},
		{&graphql.Response{Errors: gqlerror.List{{Message: "no code"}}}, false},
		{nil, false},
	} {
		if got := decided(tt.resp); got != tt.store {
			t.Errorf("decided(%v) = %v, want %v", tt.resp, got, tt.store)
		}
	}
}

func TestValidateRefusesMisusedIdempotent(t *testing.T) {
	const base = `
directive @auth(requires: [String!]!) on FIELD_DEFINITION
directive @idempotent on FIELD_DEFINITION
input GoodInput { amount: Int!  idempotencyKey: String! }
input OptionalKeyInput { idempotencyKey: String }
type Query { ok: Boolean @idempotent @auth(requires: ["X"]) }
`
	for _, tt := range []struct {
		name, mutation, want string
	}{
		{"correct", `refund(input: GoodInput!): Int @idempotent @auth(requires: ["X"])`, ""},
		{"after @auth", `refund(input: GoodInput!): Int @auth(requires: ["X"]) @idempotent`, "write @idempotent, then @auth"},
		{"no @auth", `refund(input: GoodInput!): Int @idempotent`, "write @idempotent, then @auth"},
		{"no input", `refund(amount: Int!): Int @idempotent @auth(requires: ["X"])`, "non-null `input`"},
		{"optional key", `refund(input: OptionalKeyInput!): Int @idempotent @auth(requires: ["X"])`, "idempotencyKey: String!"},
	} {
		s := gqlparser.MustLoadSchema(&ast.Source{Input: base + "type Mutation { " + tt.mutation + " }"})
		err := (&Idempotency{}).Validate(schemaOnly{s: s})
		// Query.ok is always wrong: only mutations are idempotent.
		if err == nil || !strings.Contains(err.Error(), "Query.ok: only mutations") {
			t.Errorf("%s: %v, want Query.ok refused", tt.name, err)
		}
		refund := err != nil && strings.Contains(err.Error(), "Mutation.refund")
		switch {
		case tt.want == "" && refund:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (!refund || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// schemaOnly is an ExecutableSchema that only answers Schema.
type schemaOnly struct {
	graphql.ExecutableSchema
	s *ast.Schema
}

func (s schemaOnly) Schema() *ast.Schema { return s.s }

// TestValidateChecksClaimedByWork: a mutation named in claimedByWork must be
// an @idempotent mutation of the schema, or the server does not start (a
// renamed or misspelled field would otherwise claim its key silently before
// the work, not with it).
func TestValidateChecksClaimedByWork(t *testing.T) {
	const base = `
directive @auth(requires: [String!]!) on FIELD_DEFINITION
directive @idempotent on FIELD_DEFINITION
input ConfirmInput { idempotencyKey: String! }
type Query { ok: Boolean }
`
	for _, tt := range []struct {
		name, mutation string
		refused        bool
	}{
		{"declared", `confirmCheckoutSession(input: ConfirmInput!): Int @idempotent @auth(requires: ["X"])`, false},
		{"not idempotent", `confirmCheckoutSession(input: ConfirmInput!): Int @auth(requires: ["X"])`, true},
		{"missing", `confirmCheckout(input: ConfirmInput!): Int @idempotent @auth(requires: ["X"])`, true},
	} {
		s := gqlparser.MustLoadSchema(&ast.Source{Input: base + "type Mutation { " + tt.mutation + " }"})
		err := (&Idempotency{}).Validate(schemaOnly{s: s})
		if got := err != nil && strings.Contains(err.Error(), "claimedByWork names confirmCheckoutSession"); got != tt.refused {
			t.Errorf("%s: %v, refused %v", tt.name, err, tt.refused)
		}
	}
}
