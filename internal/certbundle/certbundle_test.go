package certbundle_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/http-connector/http-connector/internal/certbundle"
	"github.com/http-connector/http-connector/internal/testing/testcert"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// A folder as Kubernetes mounts it: the bundle is every certificate of its
// files, through their links into ..data, and nothing else.
func TestReadDir(t *testing.T) {
	ca1 := testcert.CA(t, "ca1")
	ca2 := testcert.CA(t, "ca2")
	ca3 := testcert.CA(t, "ca3")
	dir := t.TempDir()
	// k8s layout: ..data/ holds the files, top-level names are symlinks.
	writeFile(t, filepath.Join(dir, "..2025_01", "bundle.pem"), append(append([]byte("Bag Attributes\n  x: y\n"), ca1.CertPEM()...), ca2.CertPEM()...))
	writeFile(t, filepath.Join(dir, "..2025_01", "other.crt"), ca3.CertPEM())
	mustSymlink(t, "..2025_01", filepath.Join(dir, "..data"))
	mustSymlink(t, "..data/bundle.pem", filepath.Join(dir, "bundle.pem"))
	mustSymlink(t, "..data/other.crt", filepath.Join(dir, "other.crt"))
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	bundle, err := certbundle.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := certbundle.Pool(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if !pool.Equal(testcert.Pool(ca1, ca2, ca3)) {
		t.Error("pool does not hold exactly ca1, ca2, ca3")
	}

	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "..data"), ca1.CertPEM())
	if _, err := certbundle.ReadDir(empty); err == nil || err.Error() != "trust bundle "+empty+" holds no certificate" {
		t.Errorf("empty bundle error = %v", err)
	}
	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "ca.pem"), []byte("not a certificate"))
	if _, err := certbundle.ReadDir(bad); err == nil || err.Error() != "certificate file "+filepath.Join(bad, "ca.pem")+": no PEM certificate found" {
		t.Errorf("bad bundle error = %v", err)
	}
}
