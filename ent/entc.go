//go:build ignore

// entc.go is the first step of Strait's codegen chain (make generate): it
// generates the ent client into ent/ and the GraphQL types of the data model
// into graph/ent.graphql. Run it from the module root: go run ./ent/entc.go
package main

import (
	"fmt"
	"log"
	"os"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// overrides is an ent extension carrying Strait's templates, parsed with
// entgql's template functions: the overrides of entgql's, the node(id:)
// prefix table (ent/node_prefix.go) and the amount accessors (ent/money.go).
type overrides struct{ entc.DefaultExtension }

// Templates implements entc.Extension.
func (overrides) Templates() []*gen.Template {
	return []*gen.Template{
		gen.MustParse(gen.NewTemplate("strait_overrides").
			Funcs(entgql.TemplateFuncs).
			ParseFiles("ent/template/pagination_count.tmpl", "ent/template/node_prefix.tmpl", "ent/template/money.tmpl")),
	}
}

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("graph/ent.graphql"),
		entgql.WithConfigPath("gqlgen.yml"),
		// Arbitrary where-filters let a caller ask for unindexed scans; Strait
		// exposes explicit, indexed filters instead.
		entgql.WithWhereInputs(false),
		entgql.WithNodeDescriptor(false),
		entgql.WithRelaySpec(true),
		entgql.WithSchemaHook(dropUnreachableTypes("schema.graphql")),
	)
	if err != nil {
		log.Fatalf("entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Target:  "./ent",
		Package: "github.com/straitpay/strait/ent",
		Features: []gen.Feature{
			gen.FeaturePrivacy,
			gen.FeatureEntQL,
			gen.FeatureLock,
			gen.FeatureUpsert,
			gen.FeatureExecQuery,
			gen.FeatureVersionedMigration,
			gen.FeatureIntercept,
			gen.FeatureModifier, // Modify: a report sums its rollups into SQL-side buckets (payments/reports)
		},
	},
		// Strait's template overrides come after entgql so they replace its
		// definitions of the same name.
		entc.Extensions(ex, overrides{}),
	)
	if err != nil {
		log.Fatalf("ent codegen: %v", err)
	}
}

// dropUnreachableTypes removes from the generated schema the types that no
// root type leads to, counting the hand-written schema's fields too: entgql
// makes an order input for every ordered field and a connection for every
// Relay-annotated type, though Strait's root fields use only some of them,
// and an unused type is noise in every client's generated code.
func dropUnreachableTypes(handWritten string) entgql.SchemaHook {
	return func(_ *gen.Graph, s *ast.Schema) error {
		src, err := os.ReadFile(handWritten)
		if err != nil {
			return err
		}
		doc, perr := parser.ParseSchema(&ast.Source{Name: handWritten, Input: string(src)})
		if perr != nil {
			return fmt.Errorf("%s: %w", handWritten, perr)
		}
		defs := map[string][]*ast.Definition{}
		for name, d := range s.Types {
			defs[name] = append(defs[name], d)
		}
		for _, d := range append(doc.Definitions, doc.Extensions...) {
			defs[d.Name] = append(defs[d.Name], d)
		}
		impls := map[string][]string{}
		for name, ds := range defs {
			for _, d := range ds {
				for _, i := range d.Interfaces {
					impls[i] = append(impls[i], name)
				}
			}
		}
		seen := map[string]bool{}
		var visit func(string)
		visitType := func(t *ast.Type) {
			for t.Elem != nil {
				t = t.Elem
			}
			visit(t.NamedType)
		}
		visit = func(name string) {
			if seen[name] {
				return
			}
			seen[name] = true
			for _, d := range defs[name] {
				for _, f := range d.Fields {
					visitType(f.Type)
					for _, a := range f.Arguments {
						visitType(a.Type)
					}
				}
				for _, t := range d.Types {
					visit(t)
				}
				for _, i := range d.Interfaces {
					visit(i)
				}
			}
			for _, impl := range impls[name] {
				visit(impl)
			}
		}
		for _, root := range []string{"Query", "Mutation", "Subscription"} {
			visit(root)
		}
		directiveArgs := func(d *ast.DirectiveDefinition) {
			for _, a := range d.Arguments {
				visitType(a.Type)
			}
		}
		for _, d := range s.Directives {
			directiveArgs(d)
		}
		for _, d := range doc.Directives {
			directiveArgs(d)
		}
		for name, d := range s.Types {
			if !seen[name] && !d.BuiltIn {
				delete(s.Types, name)
			}
		}
		return nil
	}
}
