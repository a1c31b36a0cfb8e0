package graph

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"runtime/debug"

	"entgo.io/ent/privacy"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/payments"
	"github.com/straitpay/strait/payments/store"
)

// The public error codes, set as extensions.code on every error. Clients branch
// on these; they never change meaning.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeRateLimited     = "RATE_LIMITED"
	CodeUnavailable     = "UNAVAILABLE"
	CodeInternal        = "INTERNAL"
)

var domainCodes = map[string]string{
	payments.EINVALID:      CodeBadUserInput,
	payments.ENOTFOUND:     CodeNotFound,
	payments.ECONFLICT:     CodeConflict,
	payments.EUNAUTHORIZED: CodeUnauthenticated,
	payments.EFORBIDDEN:    CodeForbidden,
	payments.ERATELIMIT:    CodeRateLimited,
	payments.EUNAVAILABLE:  CodeUnavailable,
	payments.EINTERNAL:     CodeInternal,
}

var publicCodes = map[string]bool{
	CodeUnauthenticated: true, CodeForbidden: true, CodeNotFound: true, CodeBadUserInput: true,
	CodeConflict: true, CodeRateLimited: true, CodeUnavailable: true, CodeInternal: true,
}

// gqlgen's own codes for requests that never reached a resolver, and the
// caller-safe message each gets. gqlgen's messages for undecodable bodies echo
// the body back; these do not.
var requestCodes = map[string]string{
	"GRAPHQL_PARSE_FAILED":      "",
	"GRAPHQL_VALIDATION_FAILED": "",
	"COMPLEXITY_LIMIT_EXCEEDED": "",
	"PERSISTED_QUERY_NOT_FOUND": "",
}

// ErrorPresenter turns any error into a GraphQL error with a stable
// extensions.code and a message safe to show: domain errors keep their
// message, ent's not-found and privacy denials become NOT_FOUND/FORBIDDEN, and
// everything unexpected is logged and shown only as INTERNAL.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Err == nil {
			// Produced by gqlgen itself (parse, validation, transport) or by our
			// own limits: keep its message and position, normalize the code.
			out := *gqlErr
			out.Extensions = map[string]any{}
			code, _ := gqlErr.Extensions["code"].(string)
			switch {
			case publicCodes[code]:
				out.Extensions["code"] = code
			default:
				if _, known := requestCodes[code]; known {
					out.Extensions["reason"] = code
					out.Message = withoutLiterals(out.Message)
				} else {
					// Transport errors (undecodable JSON, GET mutations) carry no code
					// and may quote the request; replace their text.
					out.Message = transportMessage(gqlErr.Message)
				}
				out.Extensions["code"] = CodeBadUserInput
			}
			return &out
		}
		out := graphql.DefaultErrorPresenter(ctx, err)
		out.Message, out.Extensions = present(ctx, log, store.Classify(err))
		if out.Extensions["code"] == CodeUnavailable {
			out.Extensions["retryAfter"] = RetryAfterSeconds
		}
		return out
	}
}

// RetryAfterSeconds is extensions.retryAfter on every UNAVAILABLE error:
// the seconds a client waits before it retries, with the same idempotency
// key. A second is long enough for a lost connection to be replaced or a
// lock to be released, short enough for a buyer waiting at the checkout.
const RetryAfterSeconds = 1

func present(ctx context.Context, log *slog.Logger, err error) (string, map[string]any) {
	ext := map[string]any{}
	var perr *payments.Error
	switch {
	case errors.As(err, &perr):
		ext["code"] = domainCodes[perr.Code]
		if perr.Field != "" {
			ext["field"] = perr.Field
		}
		if perr.Code == payments.EINTERNAL {
			log.ErrorContext(ctx, "internal error", "err", err)
			return "internal error", ext
		}
		if perr.Err != nil {
			// A cause classified at the edge (store.Classify): kept for the
			// operator, never shown.
			log.WarnContext(ctx, perr.Message, "err", err)
		}
		return perr.Message, ext
	case ent.IsNotFound(err):
		ext["code"] = CodeNotFound
		return "not found", ext
	case errors.Is(err, privacy.Deny):
		ext["code"] = CodeForbidden
		return "forbidden", ext
	case ent.IsValidationError(err):
		ext["code"] = CodeBadUserInput
		var verr *ent.ValidationError
		if errors.As(err, &verr) {
			ext["field"] = verr.Name
			return "invalid value for " + verr.Name, ext
		}
		return "invalid input", ext
	case ent.IsConstraintError(err):
		ext["code"] = CodeConflict
		return "conflicts with an existing record", ext
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		ext["code"] = CodeUnavailable
		return "the request took too long", ext
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	ext["code"] = CodeInternal
	return "internal error", ext
}

// literalValue matches what gqlparser quotes from a document's values in its
// parse and validation messages: a number literal of three digits or more
// (a card number or a CVC typed into the query), or a quoted string.
var literalValue = regexp.MustCompile(`\d{3,}|"(?:[^"\\]|\\.)*"`)

// valueQuote matches the tail of messages that quote a whole value, such as
// "String cannot represent a non string value: 4000056655665556".
var valueQuote = regexp.MustCompile(`(?i)(cannot represent[^:]*): .*$`)

// withoutLiterals drops the values a parse or validation message quotes from
// the document: card data written as a literal never comes back in an error.
// Field, argument and type names stay (gqlparser quotes them too, so quoted
// text is kept when it is a plain GraphQL name).
func withoutLiterals(msg string) string {
	msg = valueQuote.ReplaceAllString(msg, "$1")
	return literalValue.ReplaceAllStringFunc(msg, func(m string) string {
		if len(m) > 2 && m[0] == '"' && isGraphQLName(m[1:len(m)-1]) {
			return m
		}
		return "…"
	})
}

func isGraphQLName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c == '$' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return s != ""
}

// didYouMean matches gqlparser's suggestions, e.g. ` Did you mean "amount"?`.
var didYouMean = regexp.MustCompile(`\s*Did you mean [^?]*\?`)

// WithoutSuggestions wraps an error presenter so that its messages carry no
// "Did you mean …?" hints (input fields, enum values, argument names, fields,
// types): outside dev mode they would describe the schema to a caller that is
// not allowed to introspect it.
func WithoutSuggestions(next graphql.ErrorPresenterFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := next(ctx, err)
		if out != nil {
			out.Message = didYouMean.ReplaceAllString(out.Message, "")
		}
		return out
	}
}

func transportMessage(msg string) string {
	switch {
	case len(msg) >= 9 && msg[:9] == "json requ", len(msg) >= 9 && msg[:9] == "could not":
		return "the request body is not valid GraphQL-over-HTTP JSON"
	case len(msg) > 200:
		return "the request is malformed"
	}
	return msg
}

// Recover turns a resolver panic into an INTERNAL error after logging it with
// its stack; the caller never sees the panic value or the stack.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", p, "stack", string(debug.Stack()))
		return payments.Errorf(payments.EINTERNAL, "internal error")
	}
}

// codedError builds a request-level error with a public code.
func codedError(code, format string, args ...any) *gqlerror.Error {
	e := gqlerror.Errorf(format, args...)
	e.Extensions = map[string]any{"code": code}
	return e
}
