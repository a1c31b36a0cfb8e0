// Command corestats measures Go packages the way issue 14 reports the payment
// core: exported functions and methods, lines of non-test code, and each
// function's length and cyclomatic complexity, counted as gocyclo counts it
// (1, plus one per if, for, range, non-default case or select clause, && and
// ||). gocyclo itself is not served to this build; the rule is the same.
//
//	go run ./internal/corestats [-top 10] payments/cashier payments/checkout …
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type fn struct {
	name       string
	lines, cyc int
}

func main() {
	top := flag.Int("top", 10, "longest functions listed across the packages")
	flag.Parse()
	var all []fn
	for _, dir := range flag.Args() {
		exported, lines, fns, err := measure(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%-24s exported %3d  lines %5d\n", dir, exported, lines)
		all = append(all, fns...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].lines > all[j].lines })
	for _, f := range all[:min(*top, len(all))] {
		fmt.Printf("  %-40s %4d lines  complexity %3d\n", f.name, f.lines, f.cyc)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].cyc > all[j].cyc })
	fmt.Println("most complex:")
	for _, f := range all[:min(*top, len(all))] {
		fmt.Printf("  %-40s %4d lines  complexity %3d\n", f.name, f.lines, f.cyc)
	}
}

// measure counts dir's non-test Go files.
func measure(dir string) (exported, lines int, fns []fn, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return 0, 0, nil, err
	}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return 0, 0, nil, err
		}
		lines += strings.Count(string(src), "\n")
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return 0, 0, nil, err
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if fd.Name.IsExported() {
				exported++
			}
			name := fd.Name.Name
			if fd.Recv != nil && len(fd.Recv.List) > 0 {
				name = recvName(fd.Recv.List[0].Type) + "." + name
			}
			n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			fns = append(fns, fn{name: filepath.Base(dir) + "." + name, lines: n, cyc: complexity(fd)})
		}
	}
	return exported, lines, fns, nil
}

func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}

// complexity is gocyclo's count for one function, closures included.
func complexity(fd *ast.FuncDecl) int {
	c := 1
	ast.Inspect(fd, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt:
			c++
		case *ast.CaseClause:
			if x.List != nil {
				c++
			}
		case *ast.CommClause:
			if x.Comm != nil {
				c++
			}
		case *ast.BinaryExpr:
			if x.Op == token.LAND || x.Op == token.LOR {
				c++
			}
		}
		return true
	})
	return c
}
