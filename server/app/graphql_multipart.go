package app

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/straitpay/strait/connectors"
)

const mediaMultipart = "multipart/form-data"

// maxUploadBytes caps a multipart request: one evidence file of
// connectors.MaxDisputeFileBytes, with room for the operation and the
// multipart framing. Everything else stays under maxBodyBytes.
const maxUploadBytes = connectors.MaxDisputeFileBytes + 256<<10

// uploadOperations are the mutations a multipart request may carry: the
// only ones that take an Upload.
var uploadOperations = map[string]bool{"uploadDisputeFile": true}

func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == mediaMultipart
}

// uploadOnly reports whether an operation is one mutation of
// uploadOperations.
func uploadOnly(oc *graphql.OperationContext) bool {
	op := oc.Operation
	if op == nil || op.Operation != ast.Mutation || len(op.SelectionSet) != 1 {
		return false
	}
	f, ok := op.SelectionSet[0].(*ast.Field)
	return ok && uploadOperations[f.Name]
}

// readMultipart reads a GraphQL multipart request: the "operations" field
// (the JSON request), the "map" field (file field name → variable paths),
// then the files, each put in the variables as a graphql.Upload. Files stay
// in memory: the body is capped at maxUploadBytes.
func readMultipart(r *http.Request) (*graphql.RawParams, int, *gqlerror.Error) {
	if err := r.ParseMultipartForm(maxUploadBytes); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, http.StatusRequestEntityTooLarge, badRequest("the upload is too large")
		}
		return nil, http.StatusBadRequest, badRequest("the multipart body could not be read")
	}
	var in requestParams
	if err := decodeJSON(strings.NewReader(r.FormValue("operations")), &in); err != nil {
		return nil, http.StatusBadRequest, badRequest("operations is not a GraphQL request object")
	}
	var paths map[string][]string
	if err := decodeJSON(strings.NewReader(r.FormValue("map")), &paths); err != nil {
		return nil, http.StatusBadRequest, badRequest("map is not an object of file names to variable paths")
	}
	query, ok := stringOrNull(in.Query)
	if !ok || query == "" {
		return nil, http.StatusBadRequest, badRequest("operations has no query")
	}
	opName, _ := stringOrNull(in.OperationName)
	vars, ok := objectOrNull(in.Variables)
	if !ok || vars == nil {
		return nil, http.StatusBadRequest, badRequest("operations has no variables object")
	}
	for field, targets := range paths {
		fhs := r.MultipartForm.File[field]
		if len(fhs) != 1 {
			return nil, http.StatusBadRequest, badRequest("map names a file that was not sent")
		}
		fh := fhs[0]
		f, err := fh.Open()
		if err != nil {
			return nil, http.StatusBadRequest, badRequest("a file could not be read")
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(f)
		f.Close()
		if err != nil {
			return nil, http.StatusBadRequest, badRequest("a file could not be read")
		}
		for _, path := range targets {
			up := graphql.Upload{File: bytes.NewReader(buf.Bytes()), Filename: fh.Filename, Size: int64(buf.Len()),
				ContentType: fh.Header.Get("Content-Type")}
			if !setVariable(vars, path, up) {
				return nil, http.StatusBadRequest, badRequest("map path " + path + " names no null variable")
			}
		}
	}
	return &graphql.RawParams{Query: query, OperationName: opName, Variables: vars}, 0, nil
}

// setVariable puts v at a map path ("variables.input.file"), whose last
// step must hold null in the operations' variables.
func setVariable(vars map[string]any, path string, v any) bool {
	steps := strings.Split(path, ".")
	if len(steps) < 2 || steps[0] != "variables" {
		return false
	}
	m := vars
	for _, s := range steps[1 : len(steps)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			return false
		}
		m = next
	}
	last := steps[len(steps)-1]
	if cur, ok := m[last]; !ok || cur != nil {
		return false
	}
	m[last] = v
	return true
}
