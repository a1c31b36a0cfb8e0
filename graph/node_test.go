package graph

import (
	"context"
	"sort"
	"testing"

	"github.com/straitpay/strait/ent"
	"github.com/straitpay/strait/ent/schema/pulid"
	"github.com/straitpay/strait/graph/generated"
	"github.com/straitpay/strait/payments"
)

// TestNodeTableCoversEveryNodeType checks the generated node(id:) table
// (ent.NodeTypes) against the GraphQL schema as served: every type
// implementing Node has a prefix that resolves to its table, the table names
// no type the schema does not have, and every ID prefix of the data model is
// either a Node or answers NOT_FOUND like an unknown prefix.
func TestNodeTableCoversEveryNodeType(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()
	node := schema.Types["Node"]
	if node == nil {
		t.Fatal("the schema has no Node interface")
	}
	byType := map[string]ent.NodeType{}
	for prefix, nt := range ent.NodeTypes {
		if nt.Prefix != prefix {
			t.Errorf("NodeTypes[%q] has prefix %q", prefix, nt.Prefix)
		}
		if _, dup := byType[nt.GraphQLType]; dup {
			t.Errorf("%s has two prefixes", nt.GraphQLType)
		}
		byType[nt.GraphQLType] = nt
	}
	var implementors []string
	for _, def := range schema.GetPossibleTypes(node) {
		implementors = append(implementors, def.Name)
		nt, ok := byType[def.Name]
		if !ok {
			t.Errorf("%s implements Node but node(id:) cannot resolve it: give its schema pulid.MixinWithPrefix and run make generate", def.Name)
			continue
		}
		id := pulid.New(nt.Prefix)
		if table, err := nodeType(context.Background(), id); err != nil || table != nt.Table {
			t.Errorf("nodeType(%s) = %q, %v; want %s", id, table, err, nt.Table)
		}
		if ent.IDPrefixTables[nt.Prefix] != nt.Table {
			t.Errorf("%s: prefix %q maps to table %q, its IDs are made for %q", def.Name, nt.Prefix, nt.Table, ent.IDPrefixTables[nt.Prefix])
		}
	}
	if len(implementors) != len(ent.NodeTypes) {
		sort.Strings(implementors)
		t.Errorf("the schema has %d Node types %v, the table %d", len(implementors), implementors, len(ent.NodeTypes))
	}
	if len(implementors) < 19 {
		t.Errorf("only %d Node types found: is the schema read at all?", len(implementors))
	}
	for prefix := range ent.IDPrefixTables {
		if _, isNode := ent.NodeTypes[prefix]; isNode {
			continue
		}
		// Not a GraphQL type (idempotency records, FX rates, …): an ID of it
		// answers like one that never existed.
		if _, err := nodeType(context.Background(), pulid.New(prefix)); payments.ErrorCode(err) != payments.ENOTFOUND {
			t.Errorf("an ID with the non-Node prefix %q: %v, want NOT_FOUND", prefix, err)
		}
	}
}
