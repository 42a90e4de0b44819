package cni

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeAtomic replaces path with data so that readers see the old or the
// new content, never a part: a temporary file in the same directory
// (whose name no runtime reads as configuration), fsync, rename.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	return replaceAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func replaceAtomic(path string, perm os.FileMode, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".wayfabric-*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename is done; this only makes it durable sooner
		d.Close()
	}
	return nil
}

// copyFileAtomic installs a copy of src at dst with mode perm.
func copyFileAtomic(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("reading plugin binary: %w", err)
	}
	defer in.Close()
	return replaceAtomic(dst, perm, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// modeOr is path's permission bits, or def if it does not exist.
func modeOr(path string, def os.FileMode) os.FileMode {
	st, err := os.Stat(path)
	if err != nil {
		return def
	}
	return st.Mode().Perm()
}

// apply carries out an edit: writes first, so that the runtime never finds
// neither the old nor the new file.
func (e edit) apply() error {
	for path, data := range e.write {
		if err := writeAtomic(path, data, modeOr(path, 0o644)); err != nil {
			return err
		}
	}
	for _, path := range e.remove {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", path, err)
		}
	}
	return nil
}
