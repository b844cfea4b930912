package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/http-connector/http-connector/internal/certbundle"
	"github.com/http-connector/http-connector/internal/image"
)

// Exit statuses, as the connector's.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Output formats.
const (
	formatLayout  = "layout"  // an OCI image layout folder
	formatTarball = "tarball" // the same folder as one tar, an OCI archive
)

// defaultPlatforms are the connector metadata's supportedArchitectures.
const defaultPlatforms = "linux/amd64,linux/arm64"

// options are the command's flags, checked.
type options struct {
	out       string
	format    string
	tag       string
	version   string
	platforms []image.Platform
	source    string
	revision  string // empty: HEAD of the module's git checkout
	caCerts   string
	check     bool
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	o, code, done := parseFlags(args, stderr)
	if done {
		return code
	}
	if err := build(ctx, o, environ, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "http-connector-image:", err)
		return exitFailure
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (options, int, bool) {
	fs := flag.NewFlagSet("http-connector-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: go run ./cmd/http-connector-image --out <path> [flags]")
		fmt.Fprintln(fs.Output(), "\nBuilds the connector's multi-platform image, with no container engine, and checks that it runs.\n\nFlags:")
		fs.PrintDefaults()
	}
	var o options
	fs.StringVar(&o.out, "out", "", "write the image to `path` (required); a previous image there is replaced")
	fs.StringVar(&o.format, "format", formatLayout, "`format`: layout (an OCI image layout folder) or tarball (an OCI archive, the folder as one tar)")
	fs.StringVar(&o.tag, "tag", "", "the image's `tag` in the layout (default: the version)")
	fs.StringVar(&o.version, "version", "dev", "the connector's `version`, printed by `http-connector version` and labelled")
	platforms := fs.String("platforms", defaultPlatforms, "comma-separated `platforms` to build")
	fs.StringVar(&o.source, "source", "https://github.com/http-connector/http-connector", "repository `URL` for the org.opencontainers.image.source label")
	fs.StringVar(&o.revision, "revision", "", "`commit` for the revision label (default: git rev-parse HEAD)")
	fs.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to put in the image (`file`)")
	fs.BoolVar(&o.check, "check", true, "unpack the image of this machine's platform and run its version command and its readiness probe")
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return o, exitOK, true
	case err != nil:
		return o, exitUsage, true
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "http-connector-image: unexpected argument %q\n", fs.Arg(0))
		return o, exitUsage, true
	}
	var problems []string
	if o.out == "" {
		problems = append(problems, "--out: required")
	}
	if o.format != formatLayout && o.format != formatTarball {
		problems = append(problems, fmt.Sprintf("--format: must be %s or %s, got %q", formatLayout, formatTarball, o.format))
	}
	badVersion := o.version == "" || strings.ContainsAny(o.version, " \t\n'\"")
	if badVersion {
		problems = append(problems, fmt.Sprintf("--version: must be non-empty, without spaces or quotes, got %q", o.version))
	}
	tagIsVersion := o.tag == ""
	if tagIsVersion {
		o.tag = o.version
	}
	if err := image.CheckTag(o.tag); err != nil && !(tagIsVersion && badVersion) {
		problems = append(problems, "--tag: "+err.Error())
	}
	ps, err := image.ParsePlatforms(*platforms)
	if err != nil {
		problems = append(problems, "--platforms: "+err.Error())
	}
	o.platforms = ps
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "http-connector-image:", p)
		}
		return o, exitUsage, true
	}
	return o, exitOK, false
}

// build compiles, assembles, writes, checks and sums up the image.
func build(ctx context.Context, o options, environ []string, stdout, stderr io.Writer) error {
	start := time.Now()
	if err := replaceable(o.out, o.format); err != nil {
		return err
	}
	caCerts, err := readCACerts(o.caCerts)
	if err != nil {
		return err
	}
	src, err := findSource(ctx, environ)
	if err != nil {
		return err
	}
	gb, err := newGoBuild(src, o.version, environ)
	if err != nil {
		return err
	}
	meta, err := metadata(ctx, src, o, environ, stderr)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "http-connector-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	binaries, err := compileAll(ctx, gb, o.platforms, work, stderr)
	if err != nil {
		return err
	}
	ix, err := image.Build(meta, caCerts, binaries)
	if err != nil {
		return err
	}
	// A layout is written beside --out and renamed to it; an archive is
	// made from a layout in the work folder.
	dir := filepath.Join(work, "layout")
	if o.format == formatLayout {
		stage, err := os.MkdirTemp(filepath.Dir(o.out), ".http-connector-image-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(stage)
		dir = filepath.Join(stage, "layout")
	}
	if err := ix.WriteLayout(dir, o.tag); err != nil {
		return err
	}
	sum, err := image.ReadLayout(dir)
	if err != nil {
		return err
	}
	checked := ""
	if o.check {
		if checked, err = check(ctx, o.version, dir, o.platforms, work); err != nil {
			return err
		}
	}
	if err := install(dir, o.out, o.format, meta.Created); err != nil {
		return err
	}
	report(stdout, o, sum, checked, time.Since(start))
	return nil
}

// compileAll builds the connector for every platform at once, into work:
// a cold build compiles the standard library and the module once per
// architecture, a warm one mostly links, and either way two builds share
// two cores better than one after the other. The first failure stops the
// others and is the one returned.
func compileAll(ctx context.Context, gb goBuild, platforms []image.Platform, work string, stderr io.Writer) ([]image.Binary, error) {
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	binaries := make([]image.Binary, len(platforms))
	took := make([]time.Duration, len(platforms))
	for i, p := range platforms {
		wg.Go(func() {
			t := time.Now()
			exe := filepath.Join(work, "bin", p.Architecture, "http-connector")
			if err := gb.compile(bctx, p, exe); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
				return
			}
			binaries[i], took[i] = image.Binary{Platform: p, Path: exe}, time.Since(t)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if first != nil {
		return nil, first
	}
	for i, p := range platforms {
		fmt.Fprintf(stderr, "built %s in %.1fs\n", p, took[i].Seconds())
	}
	return binaries, nil
}

// readCACerts reads the bundle the image trusts and checks that it holds
// certificates.
func readCACerts(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read CA certificates: %s does not exist: install them (Debian and Ubuntu: apt-get install ca-certificates) or pass --ca-certs", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read CA certificates: %w", err)
	}
	if _, err := certbundle.Parse(b); err != nil {
		return nil, fmt.Errorf("read CA certificates %s: %w", path, err)
	}
	return b, nil
}

// install puts the layout at out, replacing any previous image there:
// renamed, or written as one tar through a temporary file beside out, so
// that a failure leaves the previous image whole.
func install(dir, out, format string, mtime time.Time) error {
	staged := dir
	if format == formatTarball {
		f, err := os.CreateTemp(filepath.Dir(out), ".http-connector-image-")
		if err != nil {
			return err
		}
		staged = f.Name()
		defer os.Remove(staged)
		err = image.Archive(f, dir, mtime)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := os.Chmod(staged, 0o644); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("replace %s: %w", out, err)
	}
	if err := os.Rename(staged, out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// replaceable refuses an out that exists and is not what this command
// writes, so that a slip of --out cannot remove a folder of sources.
func replaceable(out, format string) error {
	fi, err := os.Stat(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case format == formatLayout && fi.IsDir():
		if _, err := os.Stat(filepath.Join(out, "oci-layout")); err == nil {
			return nil
		}
	case format == formatTarball && fi.Mode().IsRegular():
		return nil
	}
	return fmt.Errorf("--out %s: exists and is not an image this command would replace (a %s); remove it or choose another path", out, format)
}

func report(w io.Writer, o options, s image.Summary, checked string, took time.Duration) {
	what := "OCI image layout"
	if o.format == formatTarball {
		what = "OCI archive"
	}
	fmt.Fprintf(w, "wrote %s (%s, tag %s) in %.0fs\n", o.out, what, s.Tag, took.Seconds())
	fmt.Fprintf(w, "index %s\n", s.Digest)
	for _, is := range s.Images {
		fmt.Fprintf(w, "  %-15s %s  %s compressed, %s unpacked\n", is.Platform, is.Digest, megabytes(is.Size), megabytes(is.Unpacked))
	}
	if checked != "" {
		fmt.Fprintf(w, "checked %s\n", checked)
	} else if o.check {
		fmt.Fprintf(w, "not checked: no image for this machine's platform (%s/%s)\n", runtime.GOOS, runtime.GOARCH)
	}
}

func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
