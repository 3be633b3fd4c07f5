package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Limits a newcomer can read at once: a file of at most maxFileLines lines,
// a function of at most maxFuncLines unless a comment in or just above it says
// why ("longer than 80 lines").
const (
	maxFileLines = 600
	maxFuncLines = 80
)

// TestSizes keeps files and functions of the module (tests included) within
// the limits, so that they do not grow past them unnoticed.
func TestSizes(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".cache", "testdata", "build", "dist", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		rel, _ := filepath.Rel(root, path)
		if n := strings.Count(string(src), "\n"); n > maxFileLines {
			t.Errorf("%s: %d lines, more than %d: split it by what its parts do", rel, n, maxFileLines)
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
			if end-start+1 <= maxFuncLines || explained(fset, f, start, end) {
				continue
			}
			t.Errorf("%s:%d: func %s has %d lines, more than %d: split it, or say why in a comment (\"longer than %d lines …\")",
				rel, start, fn.Name.Name, end-start+1, maxFuncLines, maxFuncLines)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("walked only %d Go files from %s", files, root)
	}
}

// explained reports whether a comment that ends just above the function (its
// doc) or inside it says why it is long.
func explained(fset *token.FileSet, f *ast.File, start, end int) bool {
	for _, cg := range f.Comments {
		line := fset.Position(cg.End()).Line
		if line < start-1 || line > end {
			continue
		}
		if strings.Contains(strings.ToLower(cg.Text()), "longer than 80 lines") {
			return true
		}
	}
	return false
}
