package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/straitpay/strait/ent"
)

// Limits bound what one operation may ask for. They are checked after parsing
// and validation, before any resolver runs, so an abusive query costs Strait a
// parse and a walk, nothing more.
type Limits struct {
	// MaxDepth is the deepest selection nesting allowed.
	MaxDepth int
	// MaxComplexity bounds the weighted field count: each field costs 1, and a
	// connection's children cost first/last times over.
	MaxComplexity int
	// MaxPageSize caps first/last on every connection.
	MaxPageSize int
}

// DefaultLimits fit every dashboard and checkout screen: a page of 100
// payments with a few nested fields each is about 1,500.
var DefaultLimits = Limits{MaxDepth: 12, MaxComplexity: 5000, MaxPageSize: 100}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = Limits{}

// ExtensionName implements graphql.HandlerExtension.
func (Limits) ExtensionName() string { return "StraitLimits" }

// Validate implements graphql.HandlerExtension.
func (Limits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator. Register
// Limits after extension.Introspection, so it sees whether introspection is on.
// It walks
// the selected operation once and refuses it with BAD_USER_INPUT when it is too
// deep, too complex, pages too much, or passes a page cursor Strait did not
// make (which would otherwise fail inside a resolver as INTERNAL). An
// introspection query's ofType chains do not count toward the depth.
func (l Limits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := walker{limits: l, vars: oc.Variables, fragments: oc.Doc.Fragments}
	cost := w.selections(oc.Operation.SelectionSet, 1, map[string]bool{})
	switch {
	case w.err != nil:
		return w.err
	case w.introspects && oc.DisableIntrospection:
		return codedError(CodeBadUserInput, "introspection is disabled")
	case cost > l.MaxComplexity:
		return codedError(CodeBadUserInput, "query complexity %d exceeds the limit of %d", cost, l.MaxComplexity)
	}
	return nil
}

type walker struct {
	limits    Limits
	vars      map[string]any
	fragments ast.FragmentDefinitionList
	// introspects is set when the operation selects __schema or __type.
	introspects bool
	err         *gqlerror.Error
}

// selections returns the cost of a selection set at the given depth. Fragment
// spreads already on the current path are skipped, so even an unvalidated
// fragment cycle terminates.
func (w *walker) selections(set ast.SelectionSet, depth int, onPath map[string]bool) int {
	if w.err != nil {
		return 0
	}
	if depth > w.limits.MaxDepth {
		w.err = codedError(CodeBadUserInput, "query depth exceeds the limit of %d", w.limits.MaxDepth)
		return 0
	}
	cost := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			cost += w.field(s, depth, onPath)
		case *ast.InlineFragment:
			cost += w.selections(s.SelectionSet, depth, onPath)
		case *ast.FragmentSpread:
			if onPath[s.Name] {
				continue
			}
			def := w.fragments.ForName(s.Name)
			if def == nil {
				continue
			}
			onPath[s.Name] = true
			cost += w.selections(def.SelectionSet, depth, onPath)
			delete(onPath, s.Name)
		}
		if cost > w.limits.MaxComplexity {
			return cost // no need to walk further
		}
	}
	return cost
}

func (w *walker) field(f *ast.Field, depth int, onPath map[string]bool) int {
	if f.Name == "__schema" || f.Name == "__type" {
		w.introspects = true
	}
	args := f.ArgumentMap(w.vars)
	if f.Definition != nil {
		for _, def := range f.Definition.Arguments {
			if def.Type.Name() == "Cursor" && args[def.Name] != nil {
				var c ent.Cursor
				if err := c.UnmarshalGQL(args[def.Name]); err != nil {
					w.err = codedError(CodeBadUserInput, "%s on %s is not a page cursor Strait gave", def.Name, f.Alias)
					return 0
				}
			}
		}
	}
	if len(f.SelectionSet) == 0 {
		return 1
	}
	// An introspection query's type references (ofType chains of non-null
	// and list wrappers) are as deep as the schema's types, not as the
	// operation's data: they do not count toward MaxDepth.
	next := depth + 1
	if f.Name == "ofType" && f.ObjectDefinition != nil && f.ObjectDefinition.Name == "__Type" {
		next = depth
	}
	children := w.selections(f.SelectionSet, next, onPath)
	if !isConnection(f) {
		return 1 + children
	}
	size := 0
	for _, name := range []string{"first", "last"} {
		if v, ok := args[name]; ok && v != nil {
			n, _ := v.(int64)
			if n < 0 || n > int64(w.limits.MaxPageSize) {
				w.err = codedError(CodeBadUserInput, "%s on %s must be between 0 and %d", name, f.Alias, w.limits.MaxPageSize)
				return 0
			}
			size = max(size, int(n))
		}
	}
	if size == 0 {
		if _, hasFirst := args["first"]; !hasFirst {
			if _, hasLast := args["last"]; !hasLast {
				w.err = codedError(CodeBadUserInput, "%s needs first or last (at most %d)", f.Alias, w.limits.MaxPageSize)
				return 0
			}
		}
	}
	return 1 + children*max(size, 1)
}

// isConnection reports whether the field returns a Relay connection.
func isConnection(f *ast.Field) bool {
	if f.Definition == nil || f.Definition.Type == nil {
		return false
	}
	name := f.Definition.Type.Name()
	return len(name) > len("Connection") && name[len(name)-len("Connection"):] == "Connection"
}
