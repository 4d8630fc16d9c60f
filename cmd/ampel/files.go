package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Files Ampel writes outside the warehouse (the config and CA file of
// simulate --write-config, the demo directory) are private to the user
// who runs it, whatever the umask: they hold a client secret, and the
// demo's directory holds the warehouse of its customer data. Files are
// 0600, the directories Ampel creates 0700; a directory that exists
// already (the working directory, a home) is left as it is. Ampel keeps
// its state in the warehouse (sync_state) and logs to stderr, so these
// are all the files it writes outside the warehouse directory, whose
// own permissions the embedded driver sets.

// mkdirPrivate creates dir and any missing parents with mode 0700.
func mkdirPrivate(dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range created {
		if err := os.Chmod(d, 0o700); err != nil { // MkdirAll's mode passed through the umask
			return err
		}
	}
	return nil
}

// writePrivate writes data to file with mode 0600. It writes a new file
// beside file and renames it over, so a file that was there keeps neither
// its mode nor, should the write fail, half of the new content.
func writePrivate(file string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
