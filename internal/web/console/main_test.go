package console_test

import (
	"os"
	"testing"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// One Chromium serves every browser test of the package.
func TestMain(m *testing.M) { os.Exit(webtest.Main(m)) }
