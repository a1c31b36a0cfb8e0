package graph

import (
	"slices"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/straitpay/strait/graph/generated"
)

// internalDirectives are gqlgen's codegen directives: they steer Go code
// generation and mean nothing to a client.
var internalDirectives = []string{"goModel", "goField", "goTag", "goExtraField", "goEnum"}

// PublicSchema returns the schema as clients see it: the generated one without
// gqlgen's internal directives, so introspection does not list them.
func PublicSchema() *ast.Schema {
	s := *generated.NewExecutableSchema(generated.Config{}).Schema()
	s.Directives = make(map[string]*ast.DirectiveDefinition, len(s.Directives))
	for name, d := range generated.NewExecutableSchema(generated.Config{}).Schema().Directives {
		s.Directives[name] = d
	}
	for _, name := range internalDirectives {
		delete(s.Directives, name)
	}
	// gqlparser's prelude lets @deprecated mark directive arguments
	// (DIRECTIVE_DEFINITION, a draft of the spec); graphql-js 16, which
	// GraphiQL, codegen and Apollo's tooling build client schemas with,
	// refuses the whole introspection result over that location. Nothing in
	// Strait's schema uses it.
	if d := s.Directives["deprecated"]; d != nil {
		clone := *d
		clone.Locations = slices.DeleteFunc(slices.Clone(d.Locations), func(l ast.DirectiveLocation) bool {
			return l == ast.LocationDirectiveDefinition
		})
		s.Directives["deprecated"] = &clone
	}
	return &s
}
