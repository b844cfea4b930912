// Package image builds the connector's container image without a
// container engine: one layer with the static binary, the CA certificates,
// a nonroot user and /tmp, a config per platform, and an OCI image index
// of the platforms, written as an OCI image layout. The same inputs give
// the same bytes, so two builds of a commit give the same digests. It is
// the one package that imports go-containerregistry, and its types stay
// inside.
package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Keys of the OCI image spec's pre-defined annotations.
const (
	keySource   = "org.opencontainers.image.source"
	keyVersion  = "org.opencontainers.image.version"
	keyRevision = "org.opencontainers.image.revision"
	keyCreated  = "org.opencontainers.image.created"
	keyRefName  = "org.opencontainers.image.ref.name" // the tag, in index.json
)

// Metadata describes the build; it becomes the labels of every image and
// the annotations of the index.
type Metadata struct {
	Source   string // repository URL; the label is left out when empty
	Version  string // the connector's version
	Revision string // the commit; the label is left out when empty
	// Created is the configs' creation time, the created label and the
	// modification time of every file in the layer: SOURCE_DATE_EPOCH or
	// the commit's time, never the clock, so that builds repeat. The zero
	// time stands for the Unix epoch.
	Created time.Time
}

// created is the build time as the image records it, in whole seconds.
func (m Metadata) created() time.Time {
	if m.Created.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return m.Created.UTC().Truncate(time.Second)
}

func (m Metadata) labels() map[string]string {
	l := map[string]string{
		keyVersion: m.Version,
		keyCreated: m.created().Format(time.RFC3339),
	}
	if m.Source != "" {
		l[keySource] = m.Source
	}
	if m.Revision != "" {
		l[keyRevision] = m.Revision
	}
	return l
}

// Binary is the connector executable built for one platform.
type Binary struct {
	Platform Platform
	Path     string
}

// Index is the multi-platform image, ready to be written.
type Index struct {
	index v1.ImageIndex
}

// Build makes an image for each binary, all with the same CA bundle and
// metadata, and the index of them, in the order given.
func Build(m Metadata, caCerts []byte, binaries []Binary) (*Index, error) {
	if m.Version == "" {
		return nil, errors.New("build image: no version")
	}
	if len(caCerts) == 0 {
		return nil, errors.New("build image: no CA certificates")
	}
	if len(binaries) == 0 {
		return nil, errors.New("build image: no binary")
	}
	seen := map[Platform]bool{}
	for _, b := range binaries {
		if seen[b.Platform] {
			return nil, fmt.Errorf("build image: platform %s given twice", b.Platform)
		}
		seen[b.Platform] = true
	}
	// Each platform's layer is compressed on a core of its own; the
	// index lists them in the order given.
	imgs := make([]v1.Image, len(binaries))
	errs := make([]error, len(binaries))
	var wg sync.WaitGroup
	for i, b := range binaries {
		wg.Go(func() {
			exe, err := os.ReadFile(b.Path)
			if err == nil {
				imgs[i], err = platformImage(b.Platform, m, exe, caCerts)
			}
			if err != nil {
				errs[i] = fmt.Errorf("build image for %s: %w", b.Platform, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var ii v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, b := range binaries {
		ii = mutate.AppendManifests(ii, mutate.IndexAddendum{
			Add: imgs[i],
			Descriptor: v1.Descriptor{Platform: &v1.Platform{
				OS:           b.Platform.OS,
				Architecture: b.Platform.Architecture,
				Variant:      b.Platform.Variant,
			}},
		})
	}
	ii = mutate.Annotations(ii, m.labels()).(v1.ImageIndex)
	return &Index{index: ii}, nil
}

// platformImage is the image of one platform: the config, then the one
// layer.
func platformImage(p Platform, m Metadata, binary, caCerts []byte) (v1.Image, error) {
	raw, err := layerTar(rootFS(binary, caCerts), m.created())
	if err != nil {
		return nil, err
	}
	layer, err := gzipLayer(raw)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, configFile(p, m))
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: m.created()},
			CreatedBy: "http-connector-image",
			Comment:   "static binary, CA certificates, nonroot user, /tmp",
		},
	})
}

// configFile is the runtime configuration of one platform's image; the
// layer's diff ID and history are added when the layer is appended.
func configFile(p Platform, m Metadata) *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: m.created()},
		Config: v1.Config{
			User:       User,
			Entrypoint: []string{BinaryPath},
			Cmd:        []string{"run"},
			Env:        Env(),
			WorkingDir: WorkingDir,
			Labels:     m.labels(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
}

// gzipLayer is an OCI layer of a tar, compressed once here rather than by
// go-containerregistry on every read.
func gzipLayer(raw []byte) (v1.Layer, error) {
	compressed, err := compress(raw)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// Digest is the index's digest, "sha256:…": what a registry knows the
// multi-platform image by.
func (ix *Index) Digest() (string, error) {
	h, err := ix.index.Digest()
	if err != nil {
		return "", fmt.Errorf("image index digest: %w", err)
	}
	return h.String(), nil
}

// WriteLayout writes the index as an OCI image layout into dir, which must
// be absent or empty, with the index as the layout's one entry, tagged
// tag. crane push and oras cp --from-oci-layout read it.
func (ix *Index) WriteLayout(dir, tag string) error {
	if err := CheckTag(tag); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("write image layout: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("write image layout: %s is not empty", dir)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write image layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(ix.index, layout.WithAnnotations(map[string]string{keyRefName: tag})); err != nil {
		return fmt.Errorf("write image layout %s: %w", dir, err)
	}
	// go-containerregistry leaves blobs 0600 and index.json 0777 less the
	// umask; a layout others read and archive is 0644 throughout.
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, 0o755)
		}
		return os.Chmod(path, 0o644)
	})
	if err != nil {
		return fmt.Errorf("write image layout %s: %w", dir, err)
	}
	return nil
}

// tagPattern is the OCI distribution spec's tag grammar.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// CheckTag checks a tag against the grammar registries accept.
func CheckTag(tag string) error {
	if !tagPattern.MatchString(tag) {
		return fmt.Errorf("tag %q: must match %s", tag, tagPattern)
	}
	return nil
}
