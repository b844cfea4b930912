package image

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Archive writes the image layout in dir as one tar (an "OCI archive":
// oci-layout, index.json and blobs/ at its root), which oras cp
// --from-oci-layout, skopeo's oci-archive: and podman load read. Entries
// come in lexical order with modification time mtime (zero: the Unix
// epoch), owner 0:0 and modes 0644 or 0755, so the same layout gives the
// same bytes.
func Archive(w io.Writer, dir string, mtime time.Time) error {
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		h := &tar.Header{
			Name:    filepath.ToSlash(rel),
			ModTime: mtime,
			Format:  tar.FormatUSTAR,
		}
		switch {
		case d.IsDir():
			h.Typeflag, h.Mode, h.Name = tar.TypeDir, 0o755, h.Name+"/"
			return tw.WriteHeader(h)
		case d.Type().IsRegular():
			return archiveFile(tw, h, path)
		default:
			return fmt.Errorf("%s: not a regular file or folder", path)
		}
	})
	if err != nil {
		return fmt.Errorf("archive image layout %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive image layout %s: %w", dir, err)
	}
	return nil
}

func archiveFile(tw *tar.Writer, h *tar.Header, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, fi.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
