package sqlite

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// SchemaVersion names the schema this build creates: the number of
// migration steps and a digest of their text. Benchmarks key databases
// they build once and reuse (a 100,000-message mailbox) by it, so that a
// file built by other code is never measured.
func SchemaVersion() string {
	h := sha256.New()
	for _, m := range migrations {
		h.Write([]byte(m))
		h.Write([]byte{0})
	}
	return strconv.Itoa(len(migrations)) + "-" + hex.EncodeToString(h.Sum(nil)[:6])
}
