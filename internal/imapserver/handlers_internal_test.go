package imapserver

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// answersForItself are the handlers that write their own tagged answer:
// they switch the connection's stream after answering (STARTTLS,
// COMPRESS), hold a dialogue first (AUTHENTICATE, IDLE), or stream their
// result (FETCH), so their returned error only ends the connection.
var answersForItself = map[string]bool{
	"cmdStartTLS": true, "cmdCompress": true, "cmdAuthenticate": true, "cmdIdle": true, "cmdFetch": true,
}

// TestHandlersReturnErrors guards issue 11 part 10's handler shape (go-imap
// v2's): every command handler (a session method named cmd...) returns an
// error, and apart from answersForItself none writes a NO or BAD itself
// (s.no, s.bad, s.storeError, s.wr.Tagged): its errors are answered by
// answer/answerError, the one place that maps them to the wire.
func TestHandlersReturnErrors(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	handlers := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !strings.HasPrefix(fn.Name.Name, "cmd") {
				continue
			}
			if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); !ok || star.X.(*ast.Ident).Name != "session" {
				continue
			}
			handlers++
			res := fn.Type.Results
			if res == nil || len(res.List) != 1 || res.List[0].Type.(*ast.Ident).Name != "error" {
				t.Errorf("%s: handler %s does not return an error", fset.Position(fn.Pos()), fn.Name.Name)
			}
			if answersForItself[fn.Name.Name] {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch recv := exprString(sel.X); {
				case recv == "s" && (sel.Sel.Name == "no" || sel.Sel.Name == "bad" || sel.Sel.Name == "storeError"),
					recv == "s.wr" && sel.Sel.Name == "Tagged":
					t.Errorf("%s: handler %s writes its own %s; return the error instead",
						fset.Position(call.Pos()), fn.Name.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
	if handlers < 20 {
		t.Fatalf("found only %d handlers: the test no longer sees them", handlers)
	}
}

// exprString renders a selector's receiver expression ("s", "s.wr").
func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name
	}
	return ""
}
