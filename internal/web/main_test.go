package web_test

import (
	"os"
	"testing"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

func TestMain(m *testing.M) { os.Exit(webtest.Main(m)) }
