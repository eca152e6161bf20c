package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// dbFileMode is the database's mode, and so its -wal's, -shm's and
// -journal's: it holds password hashes, TOTP secrets, DKIM private keys
// and every account's message log, for the service's user alone.
const dbFileMode fs.FileMode = 0o600

// privateDatabase makes the database file at path (if missing) with
// dbFileMode before SQLite opens it, since SQLite would create it 0644
// less the umask, readable by every local user under the usual umask
// 022. A database, or a companion file, left group- or world-accessible
// by an older version is narrowed to the owner's bits, and the log says
// so (or, when it cannot be changed, warns).
func privateDatabase(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, dbFileMode)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create database %s: %w", path, err)
	}
	for _, p := range append([]string{path}, companionPaths(path)...) {
		if err := ownerOnly(p, log); err != nil {
			return err
		}
	}
	return nil
}

// companionPaths are the files SQLite keeps beside the database at path.
// Its unix VFS creates each with the main file's permission bits (and
// owner), so the main file's mode is theirs too.
func companionPaths(path string) []string {
	return []string{path + "-wal", path + "-shm", path + "-journal"}
}

// ownerOnly takes the group's and others' bits off the file at p, if it
// exists and has any.
func ownerOnly(p string, log *slog.Logger) error {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("database file mode: %w", err)
	}
	mode := fi.Mode().Perm()
	if mode&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(p, mode&0o700); err != nil {
		// Another user's file (the CLI run by someone else): it served
		// before, and the store stays usable; the service's own open
		// narrows it.
		log.Warn("database file is open to other users and its mode could not be changed: make it 0600, owned by the service's user",
			"path", p, "mode", fmt.Sprintf("%04o", mode), "err", err)
		return nil
	}
	log.Warn("database file was open to other users: its mode is now the owner's alone",
		"path", p, "was", fmt.Sprintf("%04o", mode), "now", fmt.Sprintf("%04o", mode&0o700))
	return nil
}
