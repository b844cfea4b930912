package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/http-connector/http-connector/internal/image"
)

// readyFile is the ready file the connector keeps in Akri mode
// (settings.DefaultAkriReadyFile): in the image's /tmp.
const readyFile = "/tmp/http-connector-ready"

// probeCommand is the readiness probe of the connector metadata
// (schemas/connector-metadata.json, readinessProbe.exec.command).
func probeCommand() []string { return []string{image.BinaryPath, "ready"} }

// check unpacks the image of this machine's platform, when it was built,
// into a folder of work and runs its entrypoint there as the container
// would (checkImage). It returns what it saw, for the report; "" when no
// image is for this machine.
func check(ctx context.Context, version, dir string, platforms []image.Platform, work string) (string, error) {
	for _, p := range platforms {
		if p.OS != runtime.GOOS || p.Architecture != runtime.GOARCH {
			continue
		}
		root := filepath.Join(work, "rootfs")
		if err := os.Mkdir(root, 0o755); err != nil {
			return "", err
		}
		// The image's / is 0755 to the user it runs as.
		if err := os.Chmod(root, 0o755); err != nil {
			return "", err
		}
		if err := image.Extract(dir, p, root); err != nil {
			return "", err
		}
		c := container{root: root, chroot: os.Geteuid() == 0}
		seen, err := checkImage(ctx, c, version)
		if err != nil {
			return "", fmt.Errorf("check the %s image: %w", p, err)
		}
		return p.String() + ", run " + seen, nil
	}
	return "", nil
}

// checkImage runs the image's version command, whose first line must be
// "http-connector <version>", and its readiness probe, which with no
// ready file must exit 1 saying so: the binary runs from the image and the
// probe's command exists. It says, for the report, how it ran them and
// what they printed.
func checkImage(ctx context.Context, c container, version string) (string, error) {
	res, err := c.run(ctx, image.BinaryPath, "version")
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(res.stdout, "\n")
	if want := "http-connector " + version; res.code != 0 || first != want {
		return "", fmt.Errorf("%s version: exit %d, first line %q; want exit 0, %q%s", image.BinaryPath, res.code, first, want, res.stderrNote())
	}
	probe := probeCommand()
	res, err = c.run(ctx, probe...)
	if err != nil {
		return "", err
	}
	wantMsg := "not ready: " + readyFile + " is not there"
	if res.code != 1 || !strings.HasPrefix(res.stderr, wantMsg) {
		hint := ""
		if res.code == 0 && !c.chroot {
			hint = " (run on this machine's filesystem, not as root: is a connector here keeping " + readyFile + "?)"
		}
		return "", fmt.Errorf("%s with no ready file: exit %d, stderr %q; want exit 1, %q%s", strings.Join(probe, " "), res.code, firstLine(res.stderr), wantMsg+" (…)", hint)
	}
	how := "in its own root as " + image.User
	if !c.chroot {
		how = "on this machine's filesystem (not root: no chroot)"
	}
	return fmt.Sprintf("%s:\n  %s version: %s\n  %s: exit 1, %s", how, image.BinaryPath, first, strings.Join(probe, " "), firstLine(res.stderr)), nil
}

// container runs programs of an unpacked image.
type container struct {
	root string
	// chroot: in root as its /, as image.User, from image.WorkingDir, as
	// a runtime would (this needs root). Otherwise as this process's user, from root as
	// the working folder but with this machine's /, so a ready file
	// the probe looks for is this machine's.
	chroot bool
}

// result is how a program ended.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) stderrNote() string {
	if r.stderr == "" {
		return ""
	}
	return "; stderr " + strconv.Quote(firstLine(r.stderr))
}

// run runs argv (argv[0] a path in the image) with the image's
// environment alone and a deadline; an error is a program that could not
// be started or did not end in time, not an exit status.
func (c container) run(ctx context.Context, argv ...string) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	name := filepath.Join(c.root, argv[0])
	if c.chroot {
		name = argv[0]
	}
	cmd := exec.CommandContext(ctx, name, argv[1:]...)
	cmd.Env = image.Env()
	cmd.Dir = c.root
	if c.chroot {
		uid, gid, err := ids(image.User)
		if err != nil {
			return result{}, err
		}
		cmd.Dir = image.WorkingDir
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     c.root,
			Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}},
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.Exited():
		res.code = exit.ExitCode()
	case err != nil:
		return res, fmt.Errorf("run %s: %w%s", strings.Join(argv, " "), err, res.stderrNote())
	}
	return res, nil
}

// ids reads "uid:gid".
func ids(user string) (uint32, uint32, error) {
	u, g, ok := strings.Cut(user, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("image user %q: want uid:gid, both numbers", user)
	}
	return uint32(uid), uint32(gid), nil
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
