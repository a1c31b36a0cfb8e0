//go:build ignore

// entc.go is the first step of Strait's codegen chain (make generate): it
// generates the ent client into ent/ and the GraphQL types of the data model
// into graph/ent.graphql. Run it from the module root: go run ./ent/entc.go
package main

import (
	"log"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
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
