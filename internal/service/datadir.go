package service

import (
	"fmt"
	"log/slog"
	"os"
)

// dataDirMode is the data directory's: the group may read the message
// bodies (0640 files in 0750 directories, blob/fs), others nothing. It
// is the one gate in front of every file below it, whatever their own
// modes, and the database and the keys below it are the owner's alone.
const dataDirMode os.FileMode = 0o750

// privateDataDir makes the data directory (dataDirMode) if it is
// missing. One made before, by hand or by a version whose database was
// 0644 in it, loses others' bits and the group's write bit (with which
// the group could swap the password seal key or the database), and the
// log says so. A directory the service cannot change (another user's) is
// left as it is, with a warning: it served before, and refusing to start
// would stop mail for a mode.
func privateDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, dataDirMode); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	mode := fi.Mode().Perm()
	if mode&^dataDirMode == 0 {
		return nil
	}
	now := mode & dataDirMode
	if err := os.Chmod(dir, now); err != nil {
		log.Warn("data directory is open to other users and its mode could not be changed: make it 0750 or tighter, owned by the service's user",
			"path", dir, "mode", fmt.Sprintf("%04o", mode), "err", err)
		return nil
	}
	log.Warn("data directory was open to other users: its mode is tightened",
		"path", dir, "was", fmt.Sprintf("%04o", mode), "now", fmt.Sprintf("%04o", now))
	return nil
}
