package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/straitpay/strait/graph"
)

// The two response media types of the GraphQL-over-HTTP spec.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// overHTTP is Strait's GraphQL-over-HTTP transport for GET and POST (it
// replaces gqlgen's, whose status codes and bodies do not follow the spec):
//
//   - the answer's media type follows Accept: application/graphql-response+json
//     when the client lists it, application/json otherwise (no Accept, */*,
//     application/json), always with charset=utf-8;
//   - a request that is not a GraphQL-over-HTTP request (no or undecodable
//     body, a non-string query, a non-object variables or extensions) is 400;
//     a POST body that is not application/json is 415; a body over the cap is
//     413; each is a coded error in the GraphQL response shape;
//   - a document that does not parse or validate, or variables that do not
//     coerce, is 200 under application/json and 400 under
//     application/graphql-response+json; a request error has no data entry;
//   - a GET carries queries only: anything else is 405 with Allow: POST;
//   - a POST as multipart/form-data follows the GraphQL multipart request
//     specification (operations, map, then the files), for the upload
//     mutations only (uploadOperations), bounded by maxUploadBytes;
//   - PersistedQueryNotFound is 200 under both: it is the client's cue to send
//     the document, not a failure.
type overHTTP struct{}

var _ graphql.Transport = overHTTP{}

// Supports implements graphql.Transport: every GET and POST that is not a
// websocket upgrade, whatever its content type, so that refusals are ours.
func (overHTTP) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost)
}

// Do implements graphql.Transport.
func (overHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := responseMedia(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.Header().Add("Vary", "Accept")
	start := graphql.Now()
	params, status, err := readParams(r)
	if err != nil {
		writeRequestError(w, status, exec.DispatchError(ctx, gqlerror.List{err}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
		status := http.StatusOK
		if media == mediaGraphQLResponse && !persistedQueryNotFound(resp.Errors) {
			status = http.StatusBadRequest
		}
		writeRequestError(w, status, resp)
		return
	}
	if r.Method == http.MethodGet && oc.Operation != nil && oc.Operation.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		err := gqlerror.Errorf("GET carries queries only; send mutations with POST")
		err.Extensions = map[string]any{"code": graph.CodeBadUserInput}
		writeRequestError(w, http.StatusMethodNotAllowed, exec.DispatchError(ctx, gqlerror.List{err}))
		return
	}
	if isMultipart(r) && !uploadOnly(oc) {
		err := gqlerror.Errorf("multipart/form-data carries the uploadDisputeFile mutation only; send other operations as application/json")
		err.Extensions = map[string]any{"code": graph.CodeBadUserInput}
		writeRequestError(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{err}))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	writeResponse(w, http.StatusOK, responses(ctx))
}

// responseMedia picks the answer's media type from an Accept header.
func responseMedia(accept string) string {
	best, bestQ := mediaJSON, -1.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || (mt != mediaGraphQLResponse && mt != mediaJSON) {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		// On a tie the spec's own type wins.
		if q > 0 && (q > bestQ || (q == bestQ && mt == mediaGraphQLResponse)) {
			best, bestQ = mt, q
		}
	}
	return best
}

// requestParams is a GraphQL-over-HTTP request before its parameters are
// checked: each is decoded as any JSON value so a wrong type is a 400, not a
// decode error. documentId (the persisted documents proposal) and doc_id
// (Relay's convention) name an allow-listed operation.
type requestParams struct {
	Query         any `json:"query"`
	OperationName any `json:"operationName"`
	Variables     any `json:"variables"`
	Extensions    any `json:"extensions"`
	DocumentID    any `json:"documentId"`
	DocID         any `json:"doc_id"`
}

// readParams reads a request's parameters from a GET's URL or a POST's JSON
// body. It returns the HTTP status and a coded error for a request that is not
// a GraphQL-over-HTTP request.
func readParams(r *http.Request) (*graphql.RawParams, int, *gqlerror.Error) {
	var in requestParams
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		in.Query, in.OperationName = optional(q, "query"), optional(q, "operationName")
		in.DocumentID, in.DocID = optional(q, "documentId"), optional(q, "doc_id")
		for name, dst := range map[string]*any{"variables": &in.Variables, "extensions": &in.Extensions} {
			if s := q.Get(name); s != "" {
				if err := decodeJSON(strings.NewReader(s), dst); err != nil {
					return nil, http.StatusBadRequest, badRequest(name + " is not a JSON object")
				}
			}
		}
	} else {
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err == nil && mt == mediaMultipart {
			return readMultipart(r)
		}
		if err != nil || mt != mediaJSON {
			return nil, http.StatusUnsupportedMediaType, badRequest("send the request as Content-Type: application/json")
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return nil, http.StatusUnsupportedMediaType, badRequest("the request body must be UTF-8")
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, http.StatusRequestEntityTooLarge, badRequest("the request body is too large")
			}
			return nil, http.StatusBadRequest, badRequest("the request body could not be read")
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, http.StatusBadRequest, badRequest("the request has no body: send {\"query\": …}")
		}
		if err := decodeJSON(bytes.NewReader(body), &in); err != nil {
			return nil, http.StatusBadRequest, badRequest("the request body is not valid GraphQL-over-HTTP JSON")
		}
	}
	out := &graphql.RawParams{}
	var ok bool
	if out.Query, ok = stringOrNull(in.Query); !ok {
		return nil, http.StatusBadRequest, badRequest("query must be a string")
	}
	if out.OperationName, ok = stringOrNull(in.OperationName); !ok {
		return nil, http.StatusBadRequest, badRequest("operationName must be a string")
	}
	if out.Variables, ok = objectOrNull(in.Variables); !ok {
		return nil, http.StatusBadRequest, badRequest("variables must be an object")
	}
	if out.Extensions, ok = objectOrNull(in.Extensions); !ok {
		return nil, http.StatusBadRequest, badRequest("extensions must be an object")
	}
	for _, id := range []any{in.DocumentID, in.DocID} {
		s, ok := stringOrNull(id)
		if !ok {
			return nil, http.StatusBadRequest, badRequest("documentId must be a string")
		}
		if s != "" {
			if out.Extensions == nil {
				out.Extensions = map[string]any{}
			}
			out.Extensions[graph.DocumentIDExtension] = s
		}
	}
	if out.Query == "" && out.Extensions[graph.DocumentIDExtension] == nil && out.Extensions["persistedQuery"] == nil {
		return nil, http.StatusBadRequest, badRequest("no query: send {\"query\": …}")
	}
	return out, 0, nil
}

func optional(q map[string][]string, name string) any {
	if v, ok := q[name]; ok && len(v) > 0 {
		return v[0]
	}
	return nil
}

// decodeJSON decodes one JSON value, numbers kept exact (Int64 and money
// amounts above 2^53), and refuses trailing data.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func stringOrNull(v any) (string, bool) {
	if v == nil {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

func objectOrNull(v any) (map[string]any, bool) {
	if v == nil {
		return nil, true
	}
	m, ok := v.(map[string]any)
	return m, ok
}

func badRequest(msg string) *gqlerror.Error {
	err := gqlerror.Errorf("%s", msg)
	err.Extensions = map[string]any{"code": graph.CodeBadUserInput}
	return err
}

func persistedQueryNotFound(errs gqlerror.List) bool {
	for _, e := range errs {
		if e.Message == "PersistedQueryNotFound" {
			return true
		}
	}
	return false
}

// writeRequestError answers a request error: errors and extensions, never a
// data entry (the operation did not run).
func writeRequestError(w http.ResponseWriter, status int, resp *graphql.Response) {
	writeResponse(w, status, struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions})
}

func writeResponse(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
