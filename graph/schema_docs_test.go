package graph_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// TestHandWrittenSchemaIsDescribed: every type, field, argument, input field
// and enum value written by hand in schema.graphql has a description, which
// the docs explorer and generated clients show.
func TestHandWrittenSchemaIsDescribed(t *testing.T) {
	src, err := os.ReadFile("../schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	doc, perr := parser.ParseSchema(&ast.Source{Name: "schema.graphql", Input: string(src)})
	if perr != nil {
		t.Fatal(perr)
	}
	var missing []string
	need := func(desc, what string, pos *ast.Position) {
		if strings.TrimSpace(desc) == "" {
			missing = append(missing, fmt.Sprintf("%s (line %d)", what, pos.Line))
		}
	}
	for _, d := range doc.Directives {
		need(d.Description, "@"+d.Name, d.Position)
		for _, a := range d.Arguments {
			need(a.Description, "@"+d.Name+"("+a.Name+")", a.Position)
		}
	}
	// An extension (extend type Query) adds fields; its type is described
	// where it is defined.
	for i, list := range []ast.DefinitionList{doc.Definitions, doc.Extensions} {
		for _, d := range list {
			if i == 0 {
				need(d.Description, d.Name, d.Position)
			}
			for _, f := range d.Fields {
				need(f.Description, d.Name+"."+f.Name, f.Position)
				for _, a := range f.Arguments {
					need(a.Description, d.Name+"."+f.Name+"("+a.Name+")", a.Position)
				}
			}
			for _, v := range d.EnumValues {
				need(v.Description, d.Name+"."+v.Name, v.Position)
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d hand-written schema elements have no description:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}
