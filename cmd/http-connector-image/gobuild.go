package main

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/image"
)

// connectorPackage is what the image runs.
const connectorPackage = "github.com/http-connector/http-connector/cmd/http-connector"

// source is where the connector is built from.
type source struct {
	module string // the module's folder: where go build and git run
	pkg    string // the connector's package folder
}

// findSource asks go where the connector's package is, so that the
// command runs from any folder of the module.
func findSource(ctx context.Context, environ []string) (source, error) {
	out, err := command(ctx, "", environ, "go", "list", "-f", "{{.Dir}}\n{{.Module.Dir}}", connectorPackage)
	if err != nil {
		return source{}, fmt.Errorf("find %s (run this inside the module): %w", connectorPackage, err)
	}
	pkg, module, ok := strings.Cut(strings.TrimSpace(out), "\n")
	if !ok {
		return source{}, fmt.Errorf("find %s: go list printed %q", connectorPackage, out)
	}
	return source{module: module, pkg: pkg}, nil
}

// metadata gathers the labels: the revision from git unless given, the
// creation time from SOURCE_DATE_EPOCH or else the commit's time.
// Problems that only make a label less useful are noted on stderr.
func metadata(ctx context.Context, src source, o options, environ []string, stderr io.Writer) (image.Metadata, error) {
	m := image.Metadata{Source: o.source, Version: o.version, Revision: o.revision}
	git := func(args ...string) (string, error) {
		out, err := command(ctx, src.module, environ, "git", args...)
		return strings.TrimSpace(out), err
	}
	if m.Revision == "" {
		rev, err := git("rev-parse", "HEAD")
		if err != nil {
			fmt.Fprintf(stderr, "note: no git revision, the revision label is left out: %v\n", err)
		} else {
			m.Revision = rev
		}
	}
	if changed, err := git("status", "--porcelain", "--untracked-files=no"); err == nil && changed != "" {
		fmt.Fprintln(stderr, "note: the working tree has uncommitted changes: this image is not the revision label's commit")
	}
	if s, ok := getenv(environ, "SOURCE_DATE_EPOCH"); ok {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sec < 0 {
			return m, fmt.Errorf("SOURCE_DATE_EPOCH: want seconds since 1970, got %q", s)
		}
		m.Created = time.Unix(sec, 0).UTC()
		return m, nil
	}
	ct, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return m, fmt.Errorf("creation time: no SOURCE_DATE_EPOCH and no commit time (%w): set SOURCE_DATE_EPOCH", err)
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return m, fmt.Errorf("creation time: git log printed %q", ct)
	}
	m.Created = time.Unix(sec, 0).UTC()
	return m, nil
}

// releaseVar is the connector's package-level string variable that a
// release build sets with -ldflags "-X main.release=…"
// (cmd/http-connector/cli.go); the Dockerfile sets the same.
const releaseVar = "release"

// goBuild is the one way every platform's binary is built.
type goBuild struct {
	src     source
	environ []string
	flags   []string
}

// newGoBuild chooses the build flags: static (CGO_ENABLED=0, set by
// compile), no local paths (-trimpath), no symbol table or DWARF (-s -w),
// the version in main.release (-X), and the commit, its time and whether
// the tree was modified stamped when the module is a git checkout
// (-buildvcs=auto, whatever GOFLAGS says), as the Dockerfile's go build
// does: the connector's version command prints them.
func newGoBuild(src source, version string, environ []string) (goBuild, error) {
	if err := checkReleaseVar(src.pkg); err != nil {
		return goBuild{}, err
	}
	return goBuild{
		src:     src,
		environ: environ,
		flags:   []string{"-trimpath", "-buildvcs=auto", "-ldflags=-s -w -X main." + releaseVar + "=" + version},
	}, nil
}

// compile cross-compiles the connector for p into out.
func (g goBuild) compile(ctx context.Context, p image.Platform, out string) error {
	env := withEnv(g.environ, map[string]string{
		"CGO_ENABLED": "0",
		"GOOS":        p.OS,
		"GOARCH":      p.Architecture,
		// The baseline of each architecture, whatever this machine's
		// environment asks for, so that the image runs on every node.
		"GOAMD64": "v1",
		"GOARM64": "v8.0",
	})
	args := append([]string{"build"}, g.flags...)
	args = append(args, "-o", out, connectorPackage)
	if _, err := command(ctx, g.src.module, env, "go", args...); err != nil {
		return fmt.Errorf("build the connector for %s: %w", p, err)
	}
	return nil
}

// checkReleaseVar checks that the connector's main package declares a
// package-level string variable releaseVar, so that -X sets something:
// the linker ignores a -X for a variable that is not there.
func checkReleaseVar(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("read the connector's sources: %w", err)
		}
		for _, d := range file.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for _, n := range vs.Names {
					if n.Name != releaseVar {
						continue
					}
					if id, ok := vs.Type.(*ast.Ident); vs.Type != nil && (!ok || id.Name != "string") {
						return fmt.Errorf("%s: var %s is not a string: -X main.%s cannot set it", fset.Position(n.Pos()), releaseVar, releaseVar)
					}
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%s declares no package-level var %s: -X main.%s would set nothing (change releaseVar in cmd/http-connector-image to the connector's variable)", dir, releaseVar, releaseVar)
}

// command runs name in dir with the environment env and returns its
// stdout; its stderr goes in the error.
func command(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	if env == nil {
		cmd.Env = []string{} // not this process's environment
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("%s: %w\n%s", name, err, msg)
		}
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return stdout.String(), nil
}

// withEnv is environ with the variables of set replaced or added.
func withEnv(environ []string, set map[string]string) []string {
	var env []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); set[k] == "" {
			env = append(env, kv)
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+set[k])
	}
	return env
}

func getenv(environ []string, name string) (string, bool) {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}
