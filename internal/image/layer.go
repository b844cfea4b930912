package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"time"
)

// What the image holds, and who runs it.
const (
	// BinaryPath is the connector executable, the entrypoint.
	BinaryPath = "/http-connector"
	// CACertsPath is the CA bundle: the first file Go's crypto/x509 reads
	// on Linux, and SSL_CERT_FILE too.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// User is the uid:gid the container runs as: distroless's nonroot,
	// numeric so that Kubernetes can check runAsNonRoot.
	User = "65532:65532"
	// WorkingDir is where the entrypoint starts: nonroot's home, as in
	// the Dockerfile's base (distroless static, nonroot), so that a
	// relative path in the settings lands somewhere the user may write.
	WorkingDir = "/home/nonroot"

	nonroot = 65532
)

// Env is the image's environment, that of the Dockerfile's base: the
// PATH container runtimes use when an image sets none, written down so
// that every runtime agrees, and SSL_CERT_FILE naming the CA bundle
// (where Go looks first anyway) for anything else that reads it.
func Env() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SSL_CERT_FILE=" + CACertsPath,
	}
}

// passwd and group name root and nonroot, so that what looks the user up
// by id (Go's os/user, id or ps in a debug container sharing the process
// namespace) finds a name and a home. The home folder exists and belongs
// to nonroot.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nonroot:x:65532:\n"
)

// entry is one file or folder of the layer. Folders end in "/".
type entry struct {
	name     string // relative to /, as layer tars spell it
	mode     int64  // permission bits; 0o1000 is the sticky bit
	uid, gid int
	body     []byte // nil for a folder
}

// rootFS lists the image's whole filesystem, parents before children, in
// the order the tar holds them.
func rootFS(binary, caCerts []byte) []entry {
	return []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: CACertsPath[1:], mode: 0o644, body: caCerts},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, uid: nonroot, gid: nonroot},
		{name: BinaryPath[1:], mode: 0o755, uid: nonroot, gid: nonroot, body: binary},
		{name: "tmp/", mode: 0o1777},
	}
}

// layerTar writes the entries as an uncompressed tar with every
// timestamp set to mtime, so that the same inputs give the same bytes.
func layerTar(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: mtime,
			Format:  tar.FormatUSTAR,
		}
		if e.body == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}

// compress gzips a layer at the default level (the best saves 0.3% of a
// connector layer and takes 2.5 times as long, 2.4 s), with no name or time
// in the gzip header, so the compressed bytes (and the digest a registry
// knows the layer by) depend on the content alone.
func compress(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	return buf.Bytes(), nil
}
