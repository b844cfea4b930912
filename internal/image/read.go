package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Summary describes an image layout as WriteLayout writes it.
type Summary struct {
	Tag    string
	Digest string // of the index
	Images []ImageSummary
}

// ImageSummary describes one platform's image.
type ImageSummary struct {
	Platform Platform
	Digest   string // of the manifest
	// Size is what a registry stores and a node pulls: manifest, config
	// and compressed layers.
	Size int64
	// Unpacked is the size of the layers' tars, about what the image takes
	// on a node's disk.
	Unpacked int64
}

// ReadLayout reads back an image layout whose one entry is an image
// index, and sums up each platform's image.
func ReadLayout(dir string) (Summary, error) {
	tag, ii, err := readIndex(dir)
	if err != nil {
		return Summary{}, err
	}
	d, err := ii.Digest()
	if err != nil {
		return Summary{}, fmt.Errorf("read image layout %s: %w", dir, err)
	}
	s := Summary{Tag: tag, Digest: d.String()}
	im, err := ii.IndexManifest()
	if err != nil {
		return Summary{}, fmt.Errorf("read image layout %s: %w", dir, err)
	}
	for _, desc := range im.Manifests {
		is, err := summarise(ii, desc)
		if err != nil {
			return Summary{}, fmt.Errorf("read image layout %s: image %s: %w", dir, desc.Digest, err)
		}
		s.Images = append(s.Images, is)
	}
	return s, nil
}

func summarise(ii v1.ImageIndex, desc v1.Descriptor) (ImageSummary, error) {
	if desc.Platform == nil {
		return ImageSummary{}, errors.New("no platform in the index")
	}
	img, err := ii.Image(desc.Digest)
	if err != nil {
		return ImageSummary{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return ImageSummary{}, err
	}
	is := ImageSummary{
		Platform: Platform{OS: desc.Platform.OS, Architecture: desc.Platform.Architecture, Variant: desc.Platform.Variant},
		Digest:   desc.Digest.String(),
		Size:     desc.Size + m.Config.Size,
	}
	layers, err := img.Layers()
	if err != nil {
		return ImageSummary{}, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return ImageSummary{}, err
		}
		is.Size += n
		rc, err := l.Uncompressed()
		if err != nil {
			return ImageSummary{}, err
		}
		n, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return ImageSummary{}, err
		}
		is.Unpacked += n
	}
	return is, nil
}

// readIndex opens a layout and returns its one entry, an image index, and
// the entry's tag.
func readIndex(dir string) (string, v1.ImageIndex, error) {
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return "", nil, fmt.Errorf("read image layout %s: %w", dir, err)
	}
	im, err := root.IndexManifest()
	if err != nil {
		return "", nil, fmt.Errorf("read image layout %s: %w", dir, err)
	}
	if len(im.Manifests) != 1 || !im.Manifests[0].MediaType.IsIndex() {
		return "", nil, fmt.Errorf("read image layout %s: want one entry, an image index; got %d entries", dir, len(im.Manifests))
	}
	ii, err := root.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return "", nil, fmt.Errorf("read image layout %s: %w", dir, err)
	}
	return im.Manifests[0].Annotations[keyRefName], ii, nil
}

// Extract unpacks the filesystem of one platform's image in the layout
// into dest, an existing folder, as a container runtime would: with the
// owners when run as root (who alone may give files away), without them
// otherwise. It takes folders and regular files only, which is all the
// image holds.
func Extract(dir string, p Platform, dest string) error {
	_, ii, err := readIndex(dir)
	if err != nil {
		return err
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return fmt.Errorf("extract %s: %w", p, err)
	}
	for _, desc := range im.Manifests {
		if desc.Platform == nil || desc.Platform.OS != p.OS || desc.Platform.Architecture != p.Architecture || desc.Platform.Variant != p.Variant {
			continue
		}
		img, err := ii.Image(desc.Digest)
		if err != nil {
			return fmt.Errorf("extract %s: %w", p, err)
		}
		rc := mutate.Extract(img)
		defer rc.Close()
		if err := untar(rc, dest, os.Geteuid() == 0); err != nil {
			return fmt.Errorf("extract %s: %w", p, err)
		}
		return nil
	}
	return fmt.Errorf("extract %s: no image for that platform in %s", p, dir)
}

// untar writes the tar's folders and regular files under dest, with their
// owners if owners is set; names cannot leave it, since each is cleaned as
// a path from /.
func untar(r io.Reader, dest string, owners bool) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dest, filepath.Clean("/"+h.Name))
		mode := fs.FileMode(h.Mode).Perm()
		if h.Mode&0o1000 != 0 {
			mode |= fs.ModeSticky
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := writeFile(target, tr); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: entry type %q not supported", h.Name, h.Typeflag)
		}
		if owners {
			if err := os.Lchown(target, h.Uid, h.Gid); err != nil {
				return err
			}
		}
		// Chmod, not the mode at creation, which the umask would narrow;
		// after chown, which may clear mode bits.
		if err := os.Chmod(target, mode); err != nil {
			return err
		}
	}
}

func writeFile(name string, r io.Reader) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
