package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fakeConnector is a static binary built once for the tests, which prints
// "http-connector test" when run with "version", like the connector.
var fakeConnector string

const fakeMain = `package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "version" {
		fmt.Println("http-connector test")
		return
	}
	fmt.Fprintln(os.Stderr, "usage: http-connector version")
	os.Exit(2)
}
`

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "image-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeConnector, err = buildFake(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the fake connector:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildFake(dir string) (string, error) {
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fake\n\ngo 1.26\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(fakeMain), 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", "http-connector", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, out)
	}
	return filepath.Join(dir, "http-connector"), nil
}

var (
	amd64 = Platform{OS: "linux", Architecture: "amd64"}
	arm64 = Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// native is this machine's platform, the one whose image the tests run.
func native(t *testing.T) Platform {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary runs on Linux only")
	}
	p, err := ParsePlatform("linux/" + runtime.GOARCH)
	if err != nil {
		t.Skipf("no image for this machine: %v", err)
	}
	return p
}

var testMeta = Metadata{
	Source:   "https://example.com/http-connector",
	Version:  "1.2.3",
	Revision: "0123456789abcdef0123456789abcdef01234567",
	Created:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
}

const testCACerts = "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"

// writeLayout builds the image of the fake connector for the platforms
// and writes it as a layout into a new folder, tagged "1.2.3".
func writeLayout(t *testing.T, m Metadata, platforms ...Platform) (string, *Index) {
	t.Helper()
	var bins []Binary
	for _, p := range platforms {
		bins = append(bins, Binary{Platform: p, Path: fakeConnector})
	}
	ix, err := Build(m, []byte(testCACerts), bins)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := ix.WriteLayout(dir, "1.2.3"); err != nil {
		t.Fatalf("WriteLayout: %v", err)
	}
	return dir, ix
}

// readBack opens the layout with go-containerregistry alone and returns
// the image index its one entry names, checking the entry on the way.
func readBack(t *testing.T, dir string) v1.ImageIndex {
	t.Helper()
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("open layout: %v", err)
	}
	im, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1", len(im.Manifests))
	}
	e := im.Manifests[0]
	if e.MediaType != types.OCIImageIndex {
		t.Errorf("index.json entry media type = %s, want %s", e.MediaType, types.OCIImageIndex)
	}
	if got := e.Annotations["org.opencontainers.image.ref.name"]; got != "1.2.3" {
		t.Errorf("index.json entry tag = %q, want 1.2.3", got)
	}
	ii, err := root.ImageIndex(e.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return ii
}

func TestParsePlatform(t *testing.T) {
	tests := []struct {
		in      string
		want    Platform
		wantErr string
	}{
		{in: "linux/amd64", want: amd64},
		{in: "linux/arm64", want: arm64},
		{in: "linux/arm64/v8", want: arm64},
		{in: "linux/arm64/v9", wantErr: `platform "linux/arm64/v9": not supported (supported: linux/amd64, linux/arm64/v8)`},
		{in: "linux/amd64/v3", wantErr: `platform "linux/amd64/v3": not supported (supported: linux/amd64, linux/arm64/v8)`},
		{in: "windows/amd64", wantErr: `platform "windows/amd64": not supported (supported: linux/amd64, linux/arm64/v8)`},
		{in: "linux", wantErr: `platform "linux": want os/arch or os/arch/variant`},
		{in: "linux/arm64/v8/x", wantErr: `platform "linux/arm64/v8/x": want os/arch or os/arch/variant`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePlatform(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParsePlatform(%q) error = %v, want %s", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePlatform(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParsePlatforms(t *testing.T) {
	got, err := ParsePlatforms("linux/amd64, linux/arm64")
	if err != nil || !reflect.DeepEqual(got, []Platform{amd64, arm64}) {
		t.Errorf("ParsePlatforms = %+v, %v; want amd64 then arm64/v8", got, err)
	}
	_, err = ParsePlatforms("linux/arm64,linux/arm64/v8")
	if want := `platform "linux/arm64/v8": listed twice`; err == nil || err.Error() != want {
		t.Errorf("ParsePlatforms of a platform twice: error = %v, want %s", err, want)
	}
}

// TestIndex checks the index and each platform's config, read back with
// go-containerregistry: both platforms, from the same fake binary, since
// what is checked does not depend on its architecture.
func TestIndex(t *testing.T) {
	dir, _ := writeLayout(t, testMeta, amd64, arm64)
	ii := readBack(t, dir)
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.source":   "https://example.com/http-connector",
		"org.opencontainers.image.version":  "1.2.3",
		"org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type = %s, want %s", im.MediaType, types.OCIImageIndex)
	}
	if !reflect.DeepEqual(im.Annotations, wantLabels) {
		t.Errorf("index annotations = %v, want %v", im.Annotations, wantLabels)
	}
	wantPlatforms := []v1.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm64", Variant: "v8"},
	}
	if len(im.Manifests) != len(wantPlatforms) {
		t.Fatalf("index has %d manifests, want %d", len(im.Manifests), len(wantPlatforms))
	}
	for i, desc := range im.Manifests {
		want := wantPlatforms[i]
		t.Run(want.Architecture, func(t *testing.T) {
			if desc.Platform == nil || !reflect.DeepEqual(*desc.Platform, want) {
				t.Errorf("index platform = %+v, want %+v", desc.Platform, want)
			}
			if desc.MediaType != types.OCIManifestSchema1 {
				t.Errorf("manifest media type = %s, want %s", desc.MediaType, types.OCIManifestSchema1)
			}
			img, err := ii.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != want.OS || cf.Architecture != want.Architecture || cf.Variant != want.Variant {
				t.Errorf("config platform = %s/%s/%s, want %s/%s/%s", cf.OS, cf.Architecture, cf.Variant, want.OS, want.Architecture, want.Variant)
			}
			if !cf.Created.Equal(testMeta.Created) {
				t.Errorf("config created = %v, want %v", cf.Created.Time, testMeta.Created)
			}
			c := cf.Config
			if c.User != "65532:65532" {
				t.Errorf("user = %q, want 65532:65532", c.User)
			}
			if !reflect.DeepEqual(c.Entrypoint, []string{"/http-connector"}) || !reflect.DeepEqual(c.Cmd, []string{"run"}) {
				t.Errorf("entrypoint, cmd = %q, %q; want [/http-connector], [run]", c.Entrypoint, c.Cmd)
			}
			wantEnv := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
			if !reflect.DeepEqual(c.Env, wantEnv) || c.WorkingDir != "/home/nonroot" {
				t.Errorf("env, working folder = %q, %q; want %q, /home/nonroot", c.Env, c.WorkingDir, wantEnv)
			}
			if !reflect.DeepEqual(c.Labels, wantLabels) {
				t.Errorf("labels = %v, want %v", c.Labels, wantLabels)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if len(layers) != 1 || len(cf.RootFS.DiffIDs) != 1 || len(cf.History) != 1 {
				t.Fatalf("%d layers, %d diff IDs, %d history entries; want 1 each", len(layers), len(cf.RootFS.DiffIDs), len(cf.History))
			}
			if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
				t.Errorf("layer media type = %s, want %s", mt, types.OCILayer)
			}
		})
	}
}

// TestLayer checks every entry of the layer: names, types, modes, owners,
// times and contents.
func TestLayer(t *testing.T) {
	p := native(t)
	dir, _ := writeLayout(t, testMeta, p)
	ii := readBack(t, dir)
	img := imageFor(t, ii, p)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	binary, err := os.ReadFile(fakeConnector)
	if err != nil {
		t.Fatal(err)
	}
	type file struct {
		name     string
		typ      byte
		mode     int64
		uid, gid int
		body     string
	}
	want := []file{
		{"etc/", tar.TypeDir, 0o755, 0, 0, ""},
		{"etc/group", tar.TypeReg, 0o644, 0, 0, "root:x:0:\nnonroot:x:65532:\n"},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
		{"etc/ssl/", tar.TypeDir, 0o755, 0, 0, ""},
		{"etc/ssl/certs/", tar.TypeDir, 0o755, 0, 0, ""},
		{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, 0, testCACerts},
		{"home/", tar.TypeDir, 0o755, 0, 0, ""},
		{"home/nonroot/", tar.TypeDir, 0o700, 65532, 65532, ""},
		{"http-connector", tar.TypeReg, 0o755, 65532, 65532, string(binary)},
		{"tmp/", tar.TypeDir, 0o1777, 0, 0, ""},
	}
	var got []file
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(testMeta.Created) {
			t.Errorf("%s: mtime = %v, want %v", h.Name, h.ModTime, testMeta.Created)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, file{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, string(body)})
	}
	if len(got) != len(want) {
		names := make([]string, len(got))
		for i, f := range got {
			names[i] = f.name
		}
		t.Fatalf("layer holds %q, want %d entries", names, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.name != w.name || g.typ != w.typ || g.mode != w.mode || g.uid != w.uid || g.gid != w.gid {
			t.Errorf("entry %d = %s type %c mode %#o owner %d:%d; want %s type %c mode %#o owner %d:%d",
				i, g.name, g.typ, g.mode, g.uid, g.gid, w.name, w.typ, w.mode, w.uid, w.gid)
		}
		if g.body != w.body {
			t.Errorf("%s: content differs (%d bytes, want %d)", w.name, len(g.body), len(w.body))
		}
	}
}

func imageFor(t *testing.T, ii v1.ImageIndex, p Platform) v1.Image {
	t.Helper()
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Architecture == p.Architecture {
			img, err := ii.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no image for %s", p)
	return nil
}

// TestExtractRuns unpacks the native image's filesystem as a runtime
// would and runs the entrypoint's version command from it.
func TestExtractRuns(t *testing.T) {
	p := native(t)
	dir, _ := writeLayout(t, testMeta, p)
	root := t.TempDir()
	if err := Extract(dir, p, root); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	// Owners only as root; otherwise everything is this user's.
	owner := func(id int) int {
		if os.Geteuid() == 0 {
			return id
		}
		return os.Geteuid()
	}
	for name, want := range map[string]struct {
		mode os.FileMode
		uid  int
	}{
		"http-connector":                    {0o755, owner(65532)},
		"etc/ssl/certs/ca-certificates.crt": {0o644, owner(0)},
		"tmp":                               {os.ModeDir | os.ModeSticky | 0o777, owner(0)},
		"home/nonroot":                      {os.ModeDir | 0o700, owner(65532)},
	} {
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Errorf("extracted %s: %v", name, err)
			continue
		}
		uid := int(fi.Sys().(*syscall.Stat_t).Uid)
		if fi.Mode() != want.mode || uid != want.uid {
			t.Errorf("extracted %s: mode %v, owner %d; want %v, %d", name, fi.Mode(), uid, want.mode, want.uid)
		}
	}
	cmd := exec.Command(filepath.Join(root, BinaryPath), "version")
	cmd.Dir, cmd.Env = root, Env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run the extracted %s version: %v", BinaryPath, err)
	}
	if !strings.HasPrefix(string(out), "http-connector") {
		t.Errorf("version printed %q, want it to start with http-connector", out)
	}
	if err := Extract(dir, arm64Unless(p), t.TempDir()); err == nil || !strings.Contains(err.Error(), "no image for that platform") {
		t.Errorf("Extract of a platform not built: error = %v, want no image for that platform", err)
	}
}

// arm64Unless is a platform other than p.
func arm64Unless(p Platform) Platform {
	if p == arm64 {
		return amd64
	}
	return arm64
}

// TestReproducible builds twice from the same inputs and compares every
// byte; a different creation time must change the digest, or the check
// would prove nothing.
func TestReproducible(t *testing.T) {
	p := native(t)
	dir1, ix1 := writeLayout(t, testMeta, p)
	dir2, ix2 := writeLayout(t, testMeta, p)
	d1, err1 := ix1.Digest()
	d2, err2 := ix2.Digest()
	if err1 != nil || err2 != nil || d1 != d2 {
		t.Fatalf("index digests %s, %s (errors %v, %v); want the same", d1, d2, err1, err2)
	}
	if a, b := treeOf(t, dir1), treeOf(t, dir2); !reflect.DeepEqual(a, b) {
		t.Errorf("layouts differ:\n%v\n%v", a, b)
	}
	var a1, a2 bytes.Buffer
	if err := Archive(&a1, dir1, testMeta.Created); err != nil {
		t.Fatal(err)
	}
	if err := Archive(&a2, dir2, testMeta.Created); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a1.Bytes(), a2.Bytes()) {
		t.Errorf("archives of the same layout differ")
	}

	later := testMeta
	later.Created = later.Created.Add(time.Second)
	_, ix3 := writeLayout(t, later, p)
	if d3, _ := ix3.Digest(); d3 == d1 {
		t.Errorf("index digest %s does not change with the creation time", d3)
	}
}

// treeOf maps each file of a folder to the SHA-256 of its content.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestReadLayout checks the summary against the blobs on disk, and that
// an archive unpacks to a layout with the same summary.
func TestReadLayout(t *testing.T) {
	p := native(t)
	dir, ix := writeLayout(t, testMeta, p)
	s, err := ReadLayout(dir)
	if err != nil {
		t.Fatalf("ReadLayout: %v", err)
	}
	wantDigest, _ := ix.Digest()
	if s.Tag != "1.2.3" || s.Digest != wantDigest || len(s.Images) != 1 || s.Images[0].Platform != p {
		t.Fatalf("summary = %+v; want tag 1.2.3, digest %s, one image for %s", s, wantDigest, p)
	}
	img := imageFor(t, readBack(t, dir), p)
	m, _ := img.Manifest()
	raw, _ := img.RawManifest()
	wantSize := int64(len(raw)) + m.Config.Size + m.Layers[0].Size
	if got := s.Images[0].Size; got != wantSize {
		t.Errorf("size = %d, want %d (manifest, config and layer)", got, wantSize)
	}
	binary, _ := os.ReadFile(fakeConnector)
	if got := s.Images[0].Unpacked; got < int64(len(binary)) || got > int64(len(binary))+64<<10 {
		t.Errorf("unpacked = %d, want the binary's %d bytes and a few headers", got, len(binary))
	}

	var buf bytes.Buffer
	if err := Archive(&buf, dir, testMeta.Created); err != nil {
		t.Fatalf("Archive: %v", err)
	}
	unpacked := t.TempDir()
	if err := untar(&buf, unpacked, false); err != nil {
		t.Fatalf("unpack the archive: %v", err)
	}
	if _, err := os.Stat(filepath.Join(unpacked, "oci-layout")); err != nil {
		t.Errorf("archive has no oci-layout at its root: %v", err)
	}
	s2, err := ReadLayout(unpacked)
	if err != nil {
		t.Fatalf("ReadLayout of the unpacked archive: %v", err)
	}
	if !reflect.DeepEqual(s2, s) {
		t.Errorf("unpacked archive: summary = %+v, want %+v", s2, s)
	}
}

func TestBuildErrors(t *testing.T) {
	noVersion := testMeta
	noVersion.Version = ""
	bin := Binary{Platform: amd64, Path: fakeConnector}
	tests := []struct {
		name    string
		m       Metadata
		ca      string
		bins    []Binary
		wantErr string
	}{
		{"no version", noVersion, testCACerts, []Binary{bin}, "build image: no version"},
		{"no CA certificates", testMeta, "", []Binary{bin}, "build image: no CA certificates"},
		{"no binary", testMeta, testCACerts, nil, "build image: no binary"},
		{"platform twice", testMeta, testCACerts, []Binary{bin, bin}, "build image: platform linux/amd64 given twice"},
		{"missing binary", testMeta, testCACerts, []Binary{{Platform: amd64, Path: "/nonexistent/http-connector"}},
			"build image for linux/amd64: open /nonexistent/http-connector: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, err := Build(tt.m, []byte(tt.ca), tt.bins)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Build error = %v (index %v), want %s", err, ix, tt.wantErr)
			}
		})
	}
}

func TestWriteLayoutErrors(t *testing.T) {
	ix, err := Build(testMeta, []byte(testCACerts), []Binary{{Platform: amd64, Path: fakeConnector}})
	if err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "README"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err, want := ix.WriteLayout(full, "1.2.3"), "write image layout: "+full+" is not empty"; err == nil || err.Error() != want {
		t.Errorf("WriteLayout into a folder with a file: error = %v, want %s", err, want)
	}
	bad := filepath.Join(t.TempDir(), "layout")
	if err, want := ix.WriteLayout(bad, "1.2.3+build"), `tag "1.2.3+build": must match ^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`; err == nil || err.Error() != want {
		t.Errorf("WriteLayout with a bad tag: error = %v, want %s", err, want)
	}
	if _, err := os.Stat(bad); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteLayout with a bad tag wrote %s (stat: %v)", bad, err)
	}
}
