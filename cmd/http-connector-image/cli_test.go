package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/http-connector/http-connector/internal/image"
)

func runCLI(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, environ, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no out", nil, "http-connector-image: --out: required\n"},
		{"bad format", []string{"--out", "x", "--format", "docker"}, `http-connector-image: --format: must be layout or tarball, got "docker"` + "\n"},
		{"bad platform", []string{"--out", "x", "--platforms", "linux/amd64,linux/s390x"},
			`http-connector-image: --platforms: platform "linux/s390x": not supported (supported: linux/amd64, linux/arm64/v8)` + "\n"},
		{"bad version", []string{"--out", "x", "--version", "1 2"}, `http-connector-image: --version: must be non-empty, without spaces or quotes, got "1 2"` + "\n"},
		{"all at once", []string{"--format", "docker", "--version", ""},
			"http-connector-image: --out: required\n" +
				`http-connector-image: --format: must be layout or tarball, got "docker"` + "\n" +
				`http-connector-image: --version: must be non-empty, without spaces or quotes, got ""` + "\n"},
		{"version that is no tag", []string{"--out", "x", "--version", "1.0.0+abc"},
			`http-connector-image: --tag: tag "1.0.0+abc": must match ^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$` + "\n"},
		{"argument", []string{"--out", "x", "extra"}, `http-connector-image: unexpected argument "extra"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			if code != exitUsage || stderr != tt.want || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stderr %q", code, stdout, stderr, exitUsage, tt.want)
			}
		})
	}
}

// TestFailsEarly checks the failures found before anything is built.
func TestFailsEarly(t *testing.T) {
	sources := t.TempDir()
	if err := os.WriteFile(filepath.Join(sources, "main.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no CA certificates", []string{"--out", filepath.Join(t.TempDir(), "x.oci"), "--ca-certs", "/nonexistent/ca.crt"},
			"http-connector-image: read CA certificates: /nonexistent/ca.crt does not exist: install them (Debian and Ubuntu: apt-get install ca-certificates) or pass --ca-certs\n"},
		{"CA file without certificates", []string{"--out", filepath.Join(t.TempDir(), "x.oci"), "--ca-certs", filepath.Join(sources, "main.go")},
			"http-connector-image: read CA certificates " + filepath.Join(sources, "main.go") + ": "},
		{"out is another folder", []string{"--out", sources},
			"http-connector-image: --out " + sources + ": exists and is not an image this command would replace (a layout); remove it or choose another path\n"},
		{"out is a file, format layout", []string{"--out", filepath.Join(sources, "main.go")},
			"http-connector-image: --out " + filepath.Join(sources, "main.go") + ": exists and is not an image this command would replace (a layout); remove it or choose another path\n"},
		{"out is a folder, format tarball", []string{"--out", sources, "--format", "tarball"},
			"http-connector-image: --out " + sources + ": exists and is not an image this command would replace (a tarball); remove it or choose another path\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, os.Environ(), tt.args...)
			if code != exitFailure || !strings.HasPrefix(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr starting %q", code, stderr, exitFailure, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(sources, "main.go")); err != nil {
		t.Errorf("the folder given as --out lost its file: %v", err)
	}
}

var indexLine = regexp.MustCompile(`(?m)^index (sha256:[0-9a-f]{64})$`)

// TestBuildsConnectorImage builds the real connector's image for this
// machine's platform (one go build, about 20 s cold), checks its labels,
// runs the unpacked binary's version command, and builds it again, as a
// layout into the same path and as an archive, for the same digest.
func TestBuildsConnectorImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the connector")
	}
	if runtime.GOOS != "linux" {
		t.Skip("runs the Linux binary it builds")
	}
	p, err := image.ParsePlatform("linux/" + runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	environ := append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	dir := t.TempDir()
	out := filepath.Join(dir, "http-connector.oci")
	args := []string{"--out", out, "--platforms", p.String(), "--version", "1.2.3-test"}

	code, stdout, stderr := runCLI(t, environ, args...)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"\nchecked " + p.String() + ", run in its own root as 65532:65532:\n",
		"\n  /http-connector version: http-connector 1.2.3-test\n",
		"\n  /http-connector ready: exit 1, not ready: /tmp/http-connector-ready is not there (",
	} {
		if os.Geteuid() != 0 {
			want = strings.Replace(want, "in its own root as 65532:65532", "on this machine's filesystem (not root: no chroot)", 1)
		}
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout:\n%s\nwant %q", stdout, want)
		}
	}
	m := indexLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("stdout:\n%s\nwant an index line", stdout)
	}
	digest := m[1]

	checkReadBack(t, out, digest, p)

	// The check: the unpacked filesystem runs.
	rootfs := t.TempDir()
	if err := image.Extract(out, p, rootfs); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	cmd := exec.Command(filepath.Join(rootfs, "http-connector"), "version")
	cmd.Dir, cmd.Env = rootfs, image.Env()
	v, err := cmd.Output()
	if err != nil {
		t.Fatalf("run the unpacked /http-connector version: %v", err)
	}
	if first, _, _ := strings.Cut(string(v), "\n"); first != "http-connector 1.2.3-test" {
		t.Errorf("version printed %q, want the first line %q", v, "http-connector 1.2.3-test")
	}

	t.Run("again", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, environ, args...)
		if code != exitOK {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if m := indexLine.FindStringSubmatch(stdout); m == nil || m[1] != digest {
			t.Errorf("stdout:\n%s\nwant index %s, as the first build", stdout, digest)
		}
		if s, err := image.ReadLayout(out); err != nil || s.Digest != digest {
			t.Errorf("the replaced layout: digest %s (%v), want %s", s.Digest, err, digest)
		}
	})

	t.Run("tarball", func(t *testing.T) {
		tarPath := filepath.Join(dir, "http-connector.tar")
		code, stdout, stderr := runCLI(t, environ, "--out", tarPath, "--format", "tarball", "--platforms", p.String(), "--version", "1.2.3-test", "--check=false")
		if code != exitOK {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		unpacked := t.TempDir()
		untarFile(t, tarPath, unpacked)
		s, err := image.ReadLayout(unpacked)
		if err != nil || s.Digest != digest || s.Tag != "1.2.3-test" {
			t.Errorf("the archive's layout: %+v (%v), want digest %s, tag 1.2.3-test", s, err, digest)
		}
	})
}

func untarFile(t *testing.T, path, dest string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dest, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			err = os.MkdirAll(target, 0o755)
		} else {
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(target, b, 0o644)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckReleaseVar(t *testing.T) {
	tests := []struct {
		name, src, testSrc, wantErr string
	}{
		{"declared", "package main\n\nvar release string\n", "", ""},
		{"in a group, with a value", "package main\n\nvar (\n\tother   int\n\trelease = \"dev\"\n)\n", "", ""},
		{"absent", "package main\n\nvar version string\n", "", "{dir} declares no package-level var release: -X main.release would set nothing (change releaseVar in cmd/http-connector-image to the connector's variable)"},
		{"not a string", "package main\n\nvar release int\n", "", "{dir}/main.go:3:5: var release is not a string: -X main.release cannot set it"},
		{"only in a test", "package main\n", "package main\n\nvar release string\n", "{dir} declares no package-level var release: -X main.release would set nothing (change releaseVar in cmd/http-connector-image to the connector's variable)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.testSrc != "" {
				if err := os.WriteFile(filepath.Join(dir, "main_test.go"), []byte(tt.testSrc), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := checkReleaseVar(dir)
			want := strings.ReplaceAll(tt.wantErr, "{dir}", dir)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != want) {
				t.Errorf("checkReleaseVar = %v, want %q", err, want)
			}
		})
	}
	// The connector itself.
	if err := checkReleaseVar(filepath.Join("..", "http-connector")); err != nil {
		t.Errorf("the connector: %v", err)
	}
}

// TestCompileAllFails: the builds run at once, and a failure is one of
// theirs, not a build stopped because of it.
func TestCompileAllFails(t *testing.T) {
	amd64, _ := image.ParsePlatform("linux/amd64")
	arm64, _ := image.ParsePlatform("linux/arm64")
	gb := goBuild{src: source{module: t.TempDir()}, environ: os.Environ()}
	var stderr bytes.Buffer
	bins, err := compileAll(context.Background(), gb, []image.Platform{amd64, arm64}, t.TempDir(), &stderr)
	if err == nil || !strings.HasPrefix(err.Error(), "build the connector for linux/") || strings.Contains(err.Error(), "killed") {
		t.Errorf("compileAll outside the module = %v, %v; want a build's own failure", bins, err)
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr %q, want nothing built", stderr.String())
	}
}

// checkReadBack reads the layout at out back with go-containerregistry
// alone: one index of one image for p, with the labels, user, entrypoint
// and command of the Dockerfile.
func checkReadBack(t *testing.T, out, digest string, p image.Platform) {
	t.Helper()
	root, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	rim, err := root.IndexManifest()
	if err != nil || len(rim.Manifests) != 1 || rim.Manifests[0].Digest.String() != digest {
		t.Fatalf("index.json = %+v (%v), want one entry %s", rim, err, digest)
	}
	ii, err := root.ImageIndex(rim.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Platform == nil || im.Manifests[0].Platform.Architecture != p.Architecture {
		t.Fatalf("index = %+v (%v), want one image for %s", im, err, p)
	}
	img, err := ii.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	labels := cf.Config.Labels
	if labels["org.opencontainers.image.version"] != "1.2.3-test" || labels["org.opencontainers.image.created"] != "2023-11-14T22:13:20Z" {
		t.Errorf("labels = %v, want version 1.2.3-test, created 2023-11-14T22:13:20Z (SOURCE_DATE_EPOCH)", labels)
	}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		if want := strings.TrimSpace(string(head)); labels["org.opencontainers.image.revision"] != want {
			t.Errorf("revision label = %q, want HEAD %s", labels["org.opencontainers.image.revision"], want)
		}
	}
	if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != "/http-connector" || strings.Join(cf.Config.Cmd, " ") != "run" {
		t.Errorf("user %q, entrypoint %q, cmd %q; want 65532:65532, [/http-connector], [run]", cf.Config.User, cf.Config.Entrypoint, cf.Config.Cmd)
	}
}
