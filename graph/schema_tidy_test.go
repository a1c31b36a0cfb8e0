package graph_test

import (
	"slices"
	"sort"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/straitpay/strait/graph"
)

// unreachable lists the schema's types that no root type leads to.
func unreachable(s *ast.Schema) []string {
	seen := map[string]bool{}
	var visit func(name string)
	visitType := func(t *ast.Type) {
		for t != nil && t.Elem != nil {
			t = t.Elem
		}
		if t != nil {
			visit(t.NamedType)
		}
	}
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		def := s.Types[name]
		if def == nil {
			return
		}
		for _, f := range def.Fields {
			visitType(f.Type)
			for _, a := range f.Arguments {
				visitType(a.Type)
			}
		}
		for _, i := range def.Interfaces {
			visit(i)
		}
		for _, t := range def.Types {
			visit(t)
		}
		for _, impl := range s.PossibleTypes[name] {
			visit(impl.Name)
		}
	}
	for _, root := range []*ast.Definition{s.Query, s.Mutation, s.Subscription} {
		if root != nil {
			visit(root.Name)
		}
	}
	for _, d := range s.Directives {
		for _, a := range d.Arguments {
			visitType(a.Type)
		}
	}
	var out []string
	for name, def := range s.Types {
		if !seen[name] && !def.BuiltIn {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// TestEveryTypeIsReachable: a type no root leads to is dead weight in every
// client's generated code and in the docs explorer.
func TestEveryTypeIsReachable(t *testing.T) {
	if dead := unreachable(graph.PublicSchema()); len(dead) > 0 {
		t.Fatalf("%d types cannot be reached from Query, Mutation or Subscription: %v", len(dead), dead)
	}
}

// TestPublicSchemaForClients: code generators learn the custom scalars'
// formats from @specifiedBy, and gqlgen's own directives stay out of
// introspection.
func TestPublicSchemaForClients(t *testing.T) {
	s := graph.PublicSchema()
	for _, name := range []string{"goModel", "goField"} {
		if s.Directives[name] != nil {
			t.Errorf("@%s is visible to clients", name)
		}
	}
	if d := s.Directives["deprecated"]; d == nil || slices.Contains(d.Locations, ast.LocationDirectiveDefinition) {
		t.Errorf("@deprecated must be visible, without DIRECTIVE_DEFINITION, which graphql-js 16 refuses")
	}
	for name, def := range s.Types {
		if def.Kind != ast.Scalar || def.BuiltIn {
			continue
		}
		d := def.Directives.ForName("specifiedBy")
		if d == nil || d.Arguments.ForName("url") == nil {
			t.Errorf("scalar %s has no @specifiedBy(url:)", name)
		}
	}
}
