package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/idempotency"
	"github.com/straitpay/strait/payments/viewer"
)

// HTTP headers of idempotent requests, named as Stripe names them.
const (
	// KeyHeader may repeat input.idempotencyKey; when it differs, the request
	// is refused, so a client library's key and the schema's never disagree.
	KeyHeader = "Idempotency-Key"
	// ReplayedHeader is "true" on a response that is a stored answer replayed.
	// The body itself is the first answer, byte for byte.
	ReplayedHeader = "Idempotent-Replayed"
)

// finishTimeout bounds storing or releasing the answer. It runs detached from
// the request, so a client that hung up still leaves its key in order.
const finishTimeout = 5 * time.Second

// Idempotency implements @idempotent with two parts that meet in the context:
//
//   - the directive, on the mutation field, claims the key (or finds the stored
//     answer) once @auth has passed and the arguments have been decoded;
//   - the extension, around the whole operation, stores the serialized
//     response (data and errors, exactly what the HTTP body carries) or
//     releases the key, and swaps in the stored response on a replay.
//
// An idempotent mutation must be the only field of its operation, so its
// answer is the whole response.
type Idempotency struct {
	svc *idempotency.Service
	log *slog.Logger
}

// claimedByWork names the mutations whose payments operation takes the
// idempotency claim as part of its input and writes it with its first
// effects, keeping the rules of idempotency.Deferred
// (checkout.ConfirmInput.Claim: a confirm's claim goes with its payment's
// insert, in the transaction that writes it). The directive then claims
// nothing before the resolver runs; the resolver hands the claim to the
// operation (claimFor), and the answer is stored as for any other mutation.
// Validate refuses to start when a name here is not an @idempotent mutation.
var claimedByWork = map[string]bool{
	"confirmCheckoutSession": true,
}

// NewIdempotency returns the @idempotent implementation over svc. Register it
// with the handler (Use) and give it to the Resolver.
func NewIdempotency(svc *idempotency.Service, log *slog.Logger) *Idempotency {
	return &Idempotency{svc: svc, log: log}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.ResponseInterceptor
} = (*Idempotency)(nil)

// ExtensionName implements graphql.HandlerExtension.
func (*Idempotency) ExtensionName() string { return "StraitIdempotency" }

// Validate implements graphql.HandlerExtension: every @idempotent field must
// be a mutation with an `input` holding `idempotencyKey: String!`, with
// @idempotent written before @auth, and every mutation claimedByWork names
// must be one of them, or the server does not start.
func (*Idempotency) Validate(es graphql.ExecutableSchema) error {
	s := es.Schema()
	var errs []error
	for name := range claimedByWork {
		var f *ast.FieldDefinition
		if s.Mutation != nil {
			f = s.Mutation.Fields.ForName(name)
		}
		if f == nil || f.Directives.ForName("idempotent") == nil {
			errs = append(errs, fmt.Errorf("claimedByWork names %s, which is not an @idempotent mutation", name))
		}
	}
	for _, def := range s.Types {
		for _, f := range def.Fields {
			if f.Directives.ForName("idempotent") == nil {
				continue
			}
			if err := checkIdempotentField(s, def, f); err != nil {
				errs = append(errs, fmt.Errorf("@idempotent on %s.%s: %w", def.Name, f.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func checkIdempotentField(s *ast.Schema, parent *ast.Definition, f *ast.FieldDefinition) error {
	if s.Mutation == nil || parent.Name != s.Mutation.Name {
		return errors.New("only mutations are idempotent")
	}
	arg := f.Arguments.ForName("input")
	if arg == nil || !arg.Type.NonNull || s.Types[arg.Type.Name()] == nil {
		return errors.New("the mutation needs a non-null `input` argument")
	}
	key := s.Types[arg.Type.Name()].Fields.ForName("idempotencyKey")
	if key == nil || key.Type.String() != "String!" {
		return fmt.Errorf("%s needs a field `idempotencyKey: String!`", arg.Type.Name())
	}
	idem, auth := -1, -1
	for i, d := range f.Directives {
		switch d.Name {
		case "idempotent":
			idem = i
		case "auth":
			auth = i
		}
	}
	if auth < idem {
		// gqlgen runs the last directive first: @auth must come last to be
		// checked before a key is claimed.
		return errors.New("write @idempotent, then @auth: keys are claimed only for callers who may call the mutation")
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator: an
// operation with an idempotent mutation may hold no other field, so the
// stored answer is the answer to the whole request.
func (*Idempotency) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return nil
	}
	fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"})
	if len(fields) < 2 {
		return nil
	}
	for _, f := range fields {
		if f.Definition != nil && f.Definition.Directives.ForName("idempotent") != nil {
			return codedError(CodeBadUserInput, "%s is idempotent and must be the only field of its operation", f.Name)
		}
	}
	return nil
}

// exchange carries the claim (or the stored answer) from the directive to
// the extension around the operation.
type exchange struct {
	token  *idempotency.Token
	replay []byte
	// unclaimed is a deferred claim the work left unclaimed: it wrote
	// nothing, and a decided answer is stored after it (storeLate).
	unclaimed *idempotency.Deferred
	// deferred is the claim of a mutation claimedByWork, for its resolver
	// to hand to the operation (claimFor).
	deferred *idempotency.Deferred
}

// claimFor returns the idempotency claim the resolver of a mutation
// claimedByWork hands to its operation as input; nil for any other
// mutation (its key was claimed before the resolver ran) or a request
// without the extension.
func claimFor(ctx context.Context) *idempotency.Deferred {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	if ex == nil {
		return nil
	}
	return ex.deferred
}

type exchangeKey struct{}

type replayNoticeKey struct{}

// WithReplayNotice returns a context in which fn is called when the response
// is a replay; the HTTP layer uses it to set ReplayedHeader.
func WithReplayNotice(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, replayNoticeKey{}, fn)
}

// errReplayed stops the mutation's resolver on a replay. The extension
// replaces the whole response, so no caller sees it.
var errReplayed = payments.Errorf(payments.ECONFLICT, "replayed")

// InterceptResponse implements graphql.ResponseInterceptor.
func (x *Idempotency) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Mutation {
		return next(ctx)
	}
	ex := &exchange{}
	resp := next(context.WithValue(ctx, exchangeKey{}, ex))
	switch {
	case ex.replay != nil:
		return x.replayed(ctx, ex.replay)
	case ex.token != nil:
		x.finish(ctx, *ex.token, resp)
	case ex.unclaimed != nil && decided(resp):
		return x.storeLate(ctx, ex.unclaimed, resp)
	}
	return resp
}

// storeLate claims the key of work that ended without claiming it (a
// refusal, which wrote nothing) and stores resp as its answer, as if the
// key had been claimed before the work ran. If the key holds an answer by
// now (a duplicate ran meanwhile), that answer is sent instead.
func (x *Idempotency) storeLate(ctx context.Context, d *idempotency.Deferred, resp *graphql.Response) *graphql.Response {
	claimCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	err := d.Claim(claimCtx)
	if tok, ok := d.Claimed(); ok {
		x.finish(ctx, tok, resp)
		return resp
	}
	if replay := d.Replay(); replay != nil {
		return x.replayed(ctx, replay)
	}
	x.log.WarnContext(ctx, "idempotency: answer not stored", "err", err)
	return resp
}

// replayed returns the stored response body as the response, and tells the
// HTTP layer it is a replay.
func (x *Idempotency) replayed(ctx context.Context, body []byte) *graphql.Response {
	// The transport marshals what it gets with encoding/json; unmarshaling
	// the bytes it wrote the first time gives back the same bytes.
	var stored graphql.Response
	if err := json.Unmarshal(body, &stored); err != nil {
		x.log.ErrorContext(ctx, "idempotency: stored response does not decode", "err", err)
		return &graphql.Response{Errors: gqlerror.List{{Message: "internal error", Extensions: map[string]any{"code": CodeInternal}}}}
	}
	if notice, ok := ctx.Value(replayNoticeKey{}).(func()); ok {
		notice()
	}
	return &stored
}

// finish stores resp as the key's answer when the outcome was decided, and
// releases the key otherwise.
func (x *Idempotency) finish(ctx context.Context, tok idempotency.Token, resp *graphql.Response) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if decided(resp) {
		body, err := json.Marshal(resp)
		if err == nil {
			err = x.svc.Complete(ctx, tok, body)
		}
		if err != nil {
			x.log.WarnContext(ctx, "idempotency: answer not stored", "err", err)
		}
		return
	}
	if err := x.svc.Release(ctx, tok); err != nil {
		x.log.ErrorContext(ctx, "idempotency: key not released", "err", err)
	}
}

// storedCodes are the error codes of a decided outcome: the request ran and
// was refused on the merits, and running it again would say the same. Any
// other error releases the key: BAD_USER_INPUT because nothing ran (Stripe
// does not store a 400 either), INTERNAL and UNAVAILABLE because the outcome
// is unknown and a retry must be able to run again.
var storedCodes = map[string]bool{CodeConflict: true, CodeNotFound: true}

// decided reports whether resp is an answer to store: a success, or only
// errors with storedCodes.
func decided(resp *graphql.Response) bool {
	if resp == nil {
		return false
	}
	for _, e := range resp.Errors {
		code, _ := e.Extensions["code"].(string)
		if !storedCodes[code] {
			return false
		}
	}
	return true
}

// Directive implements @idempotent on a mutation field: it claims the key in
// input.idempotencyKey for this request, or finds the stored answer, which
// the extension then sends instead of running the mutation.
func (x *Idempotency) Directive(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	ex, ok := ctx.Value(exchangeKey{}).(*exchange)
	if x == nil || !ok {
		return nil, fmt.Errorf("@idempotent on %s: the Idempotency extension is not installed", fc.Field.Name)
	}
	oc := graphql.GetOperationContext(ctx)
	args := fc.Field.ArgumentMap(oc.Variables)
	input, _ := args["input"].(map[string]any)
	key, _ := input["idempotencyKey"].(string)
	if h := oc.Headers.Get(KeyHeader); h != "" && h != key {
		return nil, payments.FieldErrorf("idempotencyKey", "the %s header differs from input.idempotencyKey", KeyHeader)
	}
	v, _ := viewer.FromContext(ctx)
	hash, err := idempotency.Fingerprint(fc.Field.Name, request{
		Caller:    string(v.Kind) + ":" + v.Subject,
		Alias:     fc.Field.Alias,
		Arguments: args,
		Selection: canonicalSelection(fc.Field.Selections, oc),
	})
	if err != nil {
		return nil, err
	}
	if claimedByWork[fc.Field.Name] {
		return x.deferClaim(ctx, ex, scopeOf(v, input), key, fc.Field.Name, hash, next)
	}
	out, err := x.svc.Begin(ctx, scopeOf(v, input), key, fc.Field.Name, hash)
	switch {
	case err != nil:
		return nil, err
	case out.Replayed():
		ex.replay = out.Replay
		return nil, errReplayed
	}
	ex.token = &out.Token
	return next(ctx)
}

// deferClaim runs a mutation whose operation claims its key with its work
// (claimedByWork), and tells the extension what became of the claim.
func (x *Idempotency) deferClaim(ctx context.Context, ex *exchange, scope, key, field, hash string, next graphql.Resolver) (any, error) {
	d, err := x.svc.Defer(scope, key, field, hash)
	if err != nil {
		return nil, err
	}
	ex.deferred = d
	res, err := next(ctx)
	if replay := d.Replay(); replay != nil {
		ex.replay = replay
		return nil, errReplayed
	}
	if tok, ok := d.Claimed(); ok {
		ex.token = &tok
	} else if !d.Settled() {
		ex.unclaimed = d
	}
	return res, err
}

// request is what makes two requests the same: who asks, the arguments with
// variables resolved, and the shape of the answer asked for (a different
// selection would make a different response body). The operation's name and
// unused variables change nothing in the answer and are left out.
type request struct {
	Caller    string         `json:"caller"`
	Alias     string         `json:"alias"`
	Arguments map[string]any `json:"arguments"`
	Selection []any          `json:"selection"`
}

// scopeOf returns the scope of a viewer's keys: the merchant it acts for;
// for an operator, the merchant named by the input's merchantID, if any.
func scopeOf(v viewer.Viewer, input map[string]any) string {
	if v.MerchantID != "" {
		return v.MerchantID
	}
	if id, ok := input["merchantID"].(string); ok && id != "" {
		return id
	}
	return idempotency.PlatformScope
}

// canonicalSelection encodes a selection set as nested lists in document
// order (the order of the response's keys), with fragments inlined, fields
// dropped by @skip/@include left out, and arguments resolved.
func canonicalSelection(set ast.SelectionSet, oc *graphql.OperationContext) []any {
	out := []any{}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if included(s.Directives, oc.Variables) {
				out = append(out, []any{"field", s.Alias, s.Name, s.ArgumentMap(oc.Variables), canonicalSelection(s.SelectionSet, oc)})
			}
		case *ast.InlineFragment:
			if included(s.Directives, oc.Variables) {
				out = append(out, []any{"on", s.TypeCondition, canonicalSelection(s.SelectionSet, oc)})
			}
		case *ast.FragmentSpread:
			if def := oc.Doc.Fragments.ForName(s.Name); def != nil && included(s.Directives, oc.Variables) {
				out = append(out, []any{"on", def.TypeCondition, canonicalSelection(def.SelectionSet, oc)})
			}
		}
	}
	return out
}

// included evaluates @skip and @include.
func included(ds ast.DirectiveList, vars map[string]any) bool {
	for _, d := range ds {
		arg := d.Arguments.ForName("if")
		if arg == nil {
			continue
		}
		on, _ := arg.Value.Value(vars)
		if b, _ := on.(bool); (d.Name == "skip" && b) || (d.Name == "include" && !b) {
			return false
		}
	}
	return true
}
