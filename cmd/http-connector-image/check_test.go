package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/image"
)

// fakeMain stands in for the connector in the image check's tests: a
// tiny program built in a second, whose main.mode says how it misbehaves.
const fakeMain = `package main

import (
	"fmt"
	"os"
	_ "os/user" // with cgo, a dynamically linked binary
)

var mode string

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "version":
		if mode == "devel" {
			fmt.Println("http-connector (devel)")
		} else {
			fmt.Println("http-connector 1.2.3")
		}
		fmt.Println("go:       go1.26 linux")
	case len(os.Args) == 2 && os.Args[1] == "ready" && mode != "no-ready":
		if mode == "always-ready" {
			fmt.Println("ready")
			return
		}
		_, err := os.Stat("/tmp/http-connector-ready")
		fmt.Fprintf(os.Stderr, "not ready: /tmp/http-connector-ready is not there (%v)\n", err)
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "http-connector: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
`

// buildFake builds fakeMain for this machine with main.mode set; cgo
// makes it dynamically linked, as the connector must never be.
func buildFake(t *testing.T, mode string, cgo bool) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fake\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(fakeMain), 0o644); err != nil {
		t.Fatal(err)
	}
	cgoEnabled := "CGO_ENABLED=0"
	if cgo {
		cgoEnabled = "CGO_ENABLED=1"
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-X main.mode="+mode, "-o", "http-connector", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cgoEnabled, "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the fake connector (%s): %v\n%s", mode, err, out)
	}
	return filepath.Join(dir, "http-connector")
}

// TestCheck assembles an image around a fake connector and checks it as
// the command does (check), in its own root when the test runs as root,
// and on this machine's filesystem (checkImage without chroot) always.
func TestCheck(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("runs a Linux binary")
	}
	p, err := image.ParsePlatform("linux/" + runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	const (
		checkErr   = "check the " + "{platform}" + " image: "
		wantReady  = `; want exit 1, "not ready: /tmp/http-connector-ready is not there (…)"`
		notChroot  = " (run on this machine's filesystem, not as root: is a connector here keeping /tmp/http-connector-ready?)"
		unknownCmd = `stderr "http-connector: unknown command \"ready\""`
	)
	tests := []struct {
		mode string
		cgo  bool
		// wantErr in its own root and on this machine's filesystem; "" is
		// no error.
		wantChroot, wantHost string
	}{
		{mode: "ok"},
		{mode: "devel",
			wantChroot: checkErr + `/http-connector version: exit 0, first line "http-connector (devel)"; want exit 0, "http-connector 1.2.3"`,
			wantHost:   `/http-connector version: exit 0, first line "http-connector (devel)"; want exit 0, "http-connector 1.2.3"`},
		{mode: "no-ready",
			wantChroot: checkErr + "/http-connector ready with no ready file: exit 2, " + unknownCmd + wantReady,
			wantHost:   "/http-connector ready with no ready file: exit 2, " + unknownCmd + wantReady},
		{mode: "always-ready",
			wantChroot: checkErr + `/http-connector ready with no ready file: exit 0, stderr ""` + wantReady,
			wantHost:   `/http-connector ready with no ready file: exit 0, stderr ""` + wantReady + notChroot},
		// Only a run in the image's own root shows that a dynamically
		// linked binary has no loader there.
		{mode: "ok", cgo: true,
			wantChroot: checkErr + "run /http-connector version: fork/exec /http-connector: no such file or directory"},
	}
	for _, tt := range tests {
		name := tt.mode
		if tt.cgo {
			name += ", dynamically linked"
		}
		t.Run(name, func(t *testing.T) {
			if tt.cgo {
				if _, err := exec.LookPath("gcc"); err != nil {
					if os.Getenv("CI") == "true" {
						t.Fatal("no gcc for a cgo build: .ci/run installs it")
					}
					t.Skip("no gcc for a cgo build")
				}
			}
			exe := buildFake(t, tt.mode, tt.cgo)
			ix, err := image.Build(image.Metadata{Version: "1.2.3"}, []byte("certificates"), []image.Binary{{Platform: p, Path: exe}})
			if err != nil {
				t.Fatal(err)
			}
			layout := filepath.Join(t.TempDir(), "layout")
			if err := ix.WriteLayout(layout, "1.2.3"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			t.Run("own root", func(t *testing.T) {
				if os.Geteuid() != 0 {
					t.Skip("chroot needs root")
				}
				seen, err := check(ctx, "1.2.3", layout, []image.Platform{p}, t.TempDir())
				want := strings.ReplaceAll(tt.wantChroot, "{platform}", p.String())
				assertCheck(t, seen, err, want, p.String()+", run in its own root as 65532:65532:\n"+
					"  /http-connector version: http-connector 1.2.3\n"+
					"  /http-connector ready: exit 1, not ready: /tmp/http-connector-ready is not there (stat /tmp/http-connector-ready: no such file or directory)")
			})
			t.Run("host filesystem", func(t *testing.T) {
				root := t.TempDir()
				if err := image.Extract(layout, p, root); err != nil {
					t.Fatal(err)
				}
				seen, err := checkImage(ctx, container{root: root}, "1.2.3")
				assertCheck(t, seen, err, tt.wantHost, "on this machine's filesystem (not root: no chroot):\n"+
					"  /http-connector version: http-connector 1.2.3\n"+
					"  /http-connector ready: exit 1, not ready: /tmp/http-connector-ready is not there (stat /tmp/http-connector-ready: no such file or directory)")
			})
		})
	}
}

func assertCheck(t *testing.T, seen string, err error, wantErr, wantSeen string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Errorf("error = %v\nwant    %s", err, wantErr)
		}
		return
	}
	if err != nil || seen != wantSeen {
		t.Errorf("got %q, %v\nwant %q", seen, err, wantSeen)
	}
}

// TestNoImageForThisMachine: a build for other platforms only is not
// checked, and says so.
func TestNoImageForThisMachine(t *testing.T) {
	other, _ := image.ParsePlatform("linux/arm64")
	if runtime.GOARCH == "arm64" {
		other, _ = image.ParsePlatform("linux/amd64")
	}
	seen, err := check(context.Background(), "1.2.3", "/nonexistent", []image.Platform{other}, t.TempDir())
	if seen != "" || err != nil {
		t.Errorf("check = %q, %v; want nothing checked, no error", seen, err)
	}
}

func TestIDs(t *testing.T) {
	for _, tt := range []struct {
		in       string
		uid, gid uint32
		wantErr  string
	}{
		{in: "65532:65532", uid: 65532, gid: 65532},
		{in: "0:0"},
		{in: "nonroot", wantErr: `image user "nonroot": want uid:gid, both numbers`},
		{in: "nonroot:nonroot", wantErr: `image user "nonroot:nonroot": want uid:gid, both numbers`},
		{in: "65532", wantErr: `image user "65532": want uid:gid, both numbers`},
	} {
		uid, gid, err := ids(tt.in)
		if got := fmt.Sprint(err); tt.wantErr != "" && got != tt.wantErr || tt.wantErr == "" && (err != nil || uid != tt.uid || gid != tt.gid) {
			t.Errorf("ids(%q) = %d, %d, %v; want %d, %d, %s", tt.in, uid, gid, err, tt.uid, tt.gid, tt.wantErr)
		}
	}
}
