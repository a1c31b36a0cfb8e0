package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/straitpay/strait"

// pkg is what `go list -json` says of one package: its non-test imports,
// direct and transitive.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listAll runs `go list -json` over the module and returns its packages by
// path relative to the module ("payments/cashier"; "" for the root).
func listAll(t *testing.T) map[string]pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		p.Imports, p.Deps = strait(p.Imports), strait(p.Deps)
		pkgs[rel(p.ImportPath)] = p
	}
	return pkgs
}

// strait keeps Strait's own packages, relative to the module.
func strait(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, rel(p))
		}
	}
	return out
}

func rel(path string) string {
	return strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
}

// under reports whether p is root or a package below it.
func under(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

func underAny(p string, roots ...string) bool {
	return slices.ContainsFunc(roots, func(r string) bool { return under(p, r) })
}

// rule is one dependency rule: the packages under from (the root package
// "payments" included) must not depend on any package under the forbidden
// roots, directly or not; or, when only is set, import (directly) nothing of
// Strait's outside it.
type rule struct {
	name      string
	from      []string
	exactly   bool     // from lists packages, not the roots of trees
	except    []string // packages under from that the rule does not cover
	forbidden []string
	allowed   []string // packages under forbidden that are allowed all the same
	only      []string
}

// rules are docs/architecture.md's "Dependency rules", in its words.
var rules = []rule{
	{name: "payments/* never imports graph, server, connectors/host, connectors/proto, plugins or sandbox",
		from:      []string{"payments"},
		forbidden: []string{"graph", "server", "connectors/host", "connectors/hosttest", "connectors/proto", "connectors/internal", "connectors/conformance", "plugins", "sandbox", "bench"}},
	{name: "ent/schema imports no payments package (nor anything above it)",
		from:      []string{"ent/schema"},
		forbidden: []string{"payments", "graph", "server", "connectors", "plugins", "sandbox", "bench"}},
	{name: "the generated ent imports of the domain only its value packages, payments/money and payments (the error type)",
		from:      []string{"ent"},
		forbidden: []string{"payments", "graph", "server", "connectors", "plugins", "sandbox", "bench"},
		allowed:   []string{"payments/money", "payments"}},
	{name: "payments/money and payments (the error type) are value packages: they import only each other and vocab",
		from:    []string{"payments/money", "payments"},
		exactly: true,
		only:    []string{"payments/money", "payments", "vocab"}},
	{name: "the cashier never imports checkout: checkout drives the cashier, never the reverse (no callbacks)",
		from:      []string{"payments/cashier"},
		forbidden: []string{"payments/checkout"}},
	{name: "graph never imports server, plugins, sandbox or the host",
		from:      []string{"graph"},
		forbidden: []string{"server", "plugins", "sandbox", "bench", "connectors/host", "connectors/proto"}},
	{name: "the connector contract and its kits import no payments package, no ent, no graph, no server",
		from:      []string{"connectors"},
		forbidden: []string{"payments", "ent", "graph", "server", "plugins", "sandbox", "bench", "vocab"}},
	{name: "plugins import only the contract, connectors/sdk and their sandbox API client",
		from: []string{"plugins"},
		only: []string{"connectors", "connectors/sdk", "plugins/sandboxapi"}},
	{name: "plugins never reach Strait's internals, even through another package",
		from:      []string{"plugins"},
		forbidden: []string{"payments", "ent", "graph", "server", "sandbox", "connectors/host", "vocab"}},
	{name: "vocab packages are leaves: they import only vocab",
		from: []string{"vocab"},
		only: []string{"vocab"}},
	{name: "the sandbox imports nothing of Strait's; its test kit only the host's",
		from:   []string{"sandbox"},
		except: []string{"sandbox/sandboxtest"},
		only:   []string{"sandbox"}},
	{name: "server/wsock imports nothing of Strait's",
		from: []string{"server/wsock"},
		only: []string{"server/wsock"}},
	{name: "the sandbox's test kit reaches Strait only through the plugin host",
		from:      []string{"sandbox/sandboxtest"},
		forbidden: []string{"payments", "ent", "graph", "server", "plugins", "vocab"}},
}

// TestDependencyDirections checks every rule over every package of the module
// (non-test code: tests may start real parts, such as the host and the
// sandbox, from any layer).
func TestDependencyDirections(t *testing.T) {
	pkgs := listAll(t)
	paths := slices.Sorted(maps.Keys(pkgs))
	for _, r := range rules {
		covered := 0
		for _, path := range paths {
			p := pkgs[path]
			switch {
			case r.exactly && !slices.Contains(r.from, path),
				!underAny(path, r.from...),
				underAny(path, r.except...):
				continue
			}
			covered++
			if r.only != nil {
				for _, imp := range p.Imports {
					if !underAny(imp, r.only...) {
						t.Errorf("%s: %s imports %s", r.name, path, imp)
					}
				}
				continue
			}
			for _, dep := range p.Deps {
				if underAny(dep, r.forbidden...) && !slices.Contains(r.allowed, dep) {
					t.Errorf("%s: %s depends on %s%s", r.name, path, dep, via(pkgs, path, dep))
				}
			}
		}
		if covered == 0 {
			t.Errorf("%s: no package is under %v", r.name, r.from)
		}
	}
	// The rules must have something to bite on: the layers exist.
	for _, want := range []string{"payments/cashier", "payments/channels", "ent/schema", "ent/schema/rule", "graph", "server/app",
		"connectors", "connectors/host", "connectors/hosttest", "sandbox/sandboxtest", "plugins/cardnet", "vocab/viewer"} {
		if _, ok := pkgs[want]; !ok {
			t.Errorf("go list did not report %s", want)
		}
	}
}

// via names the direct import of from through which it reaches dep, to say
// where to cut.
func via(pkgs map[string]pkg, from, dep string) string {
	for _, imp := range pkgs[from].Imports {
		if imp == dep {
			return " (directly)"
		}
		if slices.Contains(pkgs[imp].Deps, dep) {
			return " (through " + imp + ")"
		}
	}
	return ""
}
