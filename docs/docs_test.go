// Package docs_test checks the documentation against the repository: every
// relative link resolves inside it (files and #anchors), no link leaves it,
// every operation of schema.graphql is in api.md, and every GraphQL example
// is valid against the schema.
package docs_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// root is the repository, from this package's directory.
const root = ".."

// pages are the documents a reader gets: README.md, docs/*.md, the
// sandbox's contract and the connector template's README.
func pages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	return append([]string{filepath.Join(root, "README.md"), filepath.Join(root, "sandbox", "API.md"),
		filepath.Join(root, "examples", "connector-template", "README.md")}, docs...)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	fence    = regexp.MustCompile("(?ms)^```.*?^```")
	codeSpan = regexp.MustCompile("`[^`\n]*`")
	// link matches [text](target) and ![alt](target); the text may hold
	// code spans, which are blanked before matching.
	link    = regexp.MustCompile(`!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)
)

// prose is the page without its code blocks, and with code spans blanked
// unless they are a link's text.
func prose(page string) string {
	page = fence.ReplaceAllStringFunc(page, func(s string) string { return strings.Repeat("\n", strings.Count(s, "\n")) })
	return codeSpan.ReplaceAllStringFunc(page, func(s string) string { return "`" + strings.Repeat("x", len(s)-2) + "`" })
}

// anchors returns the anchors GitHub makes of a page's headings: lower
// case, punctuation dropped, spaces as hyphens, "-1", "-2"… for repeats.
func anchors(page string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	page = fence.ReplaceAllString(page, "")
	for _, m := range heading.FindAllStringSubmatch(page, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ' || r == '-':
				b.WriteRune('-')
			case r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && !strings.ContainsRune("–—’“”…→←·×÷", r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// Every relative link of the docs names a file inside the repository, and
// an anchor names a heading of its page: a clone of the repository is all a
// reader has.
// sharedDir is the design folder that sits beside a checkout but never in a
// clone; spelt in two parts so that a plain search of docs/ for it finds
// only pages that really name it.
const sharedDir = ".." + "/shared/"

func TestLinksResolveInsideTheRepository(t *testing.T) {
	top, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, page := range pages(t) {
		text := read(t, page)
		for _, m := range link.FindAllStringSubmatch(prose(text), -1) {
			target := m[1]
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			file, anchor, _ := strings.Cut(target, "#")
			dest := page
			if file != "" {
				dest = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
			}
			abs, _ := filepath.Abs(dest)
			if rel, err := filepath.Rel(top, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Errorf("%s: link %q leaves the repository", page, target)
				continue
			}
			info, err := os.Stat(dest)
			if err != nil {
				t.Errorf("%s: link %q: no such file", page, target)
				continue
			}
			if anchor == "" {
				continue
			}
			if info.IsDir() || !strings.HasSuffix(dest, ".md") {
				t.Errorf("%s: link %q: an anchor into something other than a Markdown page", page, target)
				continue
			}
			if !anchors(read(t, dest))[anchor] {
				t.Errorf("%s: link %q: %s has no heading with the anchor #%s", page, target, dest, anchor)
			}
		}
		// A path outside the repository in plain text is a dead end too.
		if strings.Contains(text, sharedDir) {
			t.Errorf("%s names %s, which is not in the repository", page, sharedDir)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d relative links found: the link pattern is broken", checked)
	}
}

func TestAnchorsAreGitHubs(t *testing.T) {
	got := anchors("# Strait\n## 3-D Secure challenge page: `/card/3ds/{payment id}`\n## Card network and acquirer (`/card`)\n" +
		"```\n# not a heading\n```\n## Strait\n### What the SDK does for you\n")
	for _, want := range []string{"strait", "strait-1", "3-d-secure-challenge-page-card3dspayment-id",
		"card-network-and-acquirer-card", "what-the-sdk-does-for-you"} {
		if !got[want] {
			t.Errorf("anchor %q missing from %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Error("a line in a code block became an anchor")
	}
}

// schemaSources are the API's schema files.
func schemaSources(t *testing.T) []*ast.Source {
	t.Helper()
	var srcs []*ast.Source
	for _, f := range []string{"schema.graphql", "graph/ent.graphql"} {
		srcs = append(srcs, &ast.Source{Name: f, Input: read(t, filepath.Join(root, f))})
	}
	return srcs
}

// Every query, mutation and subscription of schema.graphql has its row in
// api.md's operations table, and every operation the table names exists.
func TestAPIListsEveryOperation(t *testing.T) {
	doc, err := parser.ParseSchema(schemaSources(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	api := read(t, filepath.Join(root, "docs", "api.md"))
	start := strings.Index(api, "\n## Operations")
	if start < 0 {
		t.Fatal(`docs/api.md has no "## Operations" section`)
	}
	section := api[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	// The table's first column: `name` or `name(args)`, several per row.
	listed := map[string]bool{}
	op := regexp.MustCompile("`([a-zA-Z]+)[(`]")
	for _, line := range strings.Split(section, "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 {
			for _, m := range op.FindAllStringSubmatch(cells[1], -1) {
				listed[m[1]] = true
			}
		}
	}
	var fields []string
	for _, d := range append(doc.Definitions, doc.Extensions...) {
		if d.Name == "Query" || d.Name == "Mutation" || d.Name == "Subscription" {
			for _, f := range d.Fields {
				fields = append(fields, f.Name)
				if !listed[f.Name] {
					t.Errorf("%s.%s is not in docs/api.md's operations table", d.Name, f.Name)
				}
			}
		}
	}
	if len(fields) < 40 {
		t.Fatalf("only %d operations found in schema.graphql", len(fields))
	}
	for name := range listed {
		if !slices.Contains(fields, name) && name != "node" && name != "nodes" {
			t.Errorf("docs/api.md's operations table names %q, which schema.graphql does not have", name)
		}
	}
}

var graphqlBlock = regexp.MustCompile("(?ms)^```graphql\n(.*?)^```")

// Every GraphQL example in the docs is valid against the schema: each
// operation of a block is validated on its own; a block of schema
// definitions (an input, a type) names only fields the schema has.
func TestGraphQLExamplesMatchTheSchema(t *testing.T) {
	schema, gerr := gqlparser.LoadSchema(schemaSources(t)...)
	if gerr != nil {
		t.Fatal(gerr)
	}
	checked := 0
	for _, page := range pages(t) {
		for _, m := range graphqlBlock.FindAllStringSubmatch(read(t, page), -1) {
			src := m[1]
			first := strings.SplitN(strings.TrimSpace(src), "\n", 2)[0]
			if doc, err := parser.ParseQuery(&ast.Source{Input: src}); err == nil {
				for _, op := range doc.Operations {
					one := &ast.QueryDocument{Operations: ast.OperationList{op}, Fragments: doc.Fragments}
					for _, e := range validator.Validate(schema, one) {
						if !strings.Contains(e.Message, "is never used") {
							t.Errorf("%s: example %q: %s", page, first, e.Message)
						}
					}
					checked++
				}
				continue
			}
			sdl, err := parser.ParseSchema(&ast.Source{Input: src})
			if err != nil {
				t.Errorf("%s: example %q is neither an operation nor schema definitions: %v", page, first, err)
				continue
			}
			for _, d := range append(sdl.Definitions, sdl.Extensions...) {
				def := schema.Types[d.Name]
				if def == nil {
					t.Errorf("%s: example names type %s, which the schema does not have", page, d.Name)
					continue
				}
				for _, f := range d.Fields {
					if def.Fields.ForName(f.Name) == nil {
						t.Errorf("%s: example names %s.%s, which the schema does not have", page, d.Name, f.Name)
					}
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d GraphQL examples checked: the block pattern is broken", checked)
	}
}

// The Makefile's `test` comment promises the race detector on the packages
// that run concurrently: `make test` runs it on packages that exist, and
// runs every other package without it.
func TestMakeTestRunsTheRaceDetector(t *testing.T) {
	out, err := exec.Command("make", "-C", root, "-n", "test").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n test: %v\n%s", err, out)
	}
	var race []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "test" && slices.Contains(f, "-race") {
			for _, arg := range f {
				if strings.HasPrefix(arg, "./") {
					race = append(race, arg)
				}
			}
		}
	}
	if len(race) < 5 {
		t.Fatalf("make test runs -race on %v:\n%s", race, out)
	}
	list := exec.Command("go", append([]string{"list"}, race...)...)
	list.Dir = root
	if out, err := list.CombinedOutput(); err != nil {
		t.Errorf("make test's race packages do not all exist: %v\n%s", err, out)
	}
}
