// Command http-connector-image builds the connector's multi-platform
// container image without a container engine: for each platform it
// cross-compiles ./cmd/http-connector (static, trimmed, reproducible),
// puts it in a one-layer image with the build machine's CA certificates,
// a nonroot user and /tmp, and writes an OCI image index of the platforms
// as an OCI image layout (a folder) or an OCI archive (a tar of one).
// Then it unpacks the image of this machine's platform and runs its
// `version` command and its readiness probe (`ready`, with no ready file)
// there, chrooted as the image's user when run as root, and prints each
// platform's digest and size.
//
//	go run ./cmd/http-connector-image --out http-connector.oci --version 0.1.0
//	crane push http-connector.oci <registry>/http-connector:0.1.0
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
