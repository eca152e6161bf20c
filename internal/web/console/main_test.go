package console_test

import (
	"os"
	"testing"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// One Chromium serves every browser test of the package; one template
// data directory every server (data_test.go).
func TestMain(m *testing.M) {
	code := webtest.Main(m)
	removeTemplate()
	os.Exit(code)
}
