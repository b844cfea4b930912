package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/http-connector/http-connector/mappings"
)

func cmdTest(ctx context.Context, e *env, args []string) int {
	const synopsis = "Runs the test cases of mapping files and prints pass or fail for each, with a diff of\n" +
		"the JSON on failure. A PATH is a mapping file, or a folder searched for them: its\n" +
		"YAML files with a top-level mappings member, testdata and hidden folders skipped.\n" +
		"Default PATH: the current folder. Exit status 0: all passed; 1: a case failed or a\n" +
		"file has problems."
	fs := newFlagSet("test", synopsis, e)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: http-connector test [flags] [PATH…]\n\n%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	runRE := fs.String("run", "", "run only the cases whose \"namespace/name: case\" matches this `regexp`")
	paths, code, done := parseWithPaths(fs, args, e)
	if done {
		return code
	}
	var filter *regexp.Regexp
	if *runRE != "" {
		re, err := regexp.Compile(*runRE)
		if err != nil {
			fmt.Fprintf(e.stderr, "http-connector test: -run: %v\n", err)
			return exitUsage
		}
		filter = re
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	reader, err := mappings.NewReader()
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitFailure
	}

	var files []*mappings.File
	fileErrs := map[string][]error{}
	var order []string // file paths in the order read, with or without errors
	var setup []error
	for _, p := range paths {
		found, err := mappingFiles(p)
		if err != nil {
			setup = append(setup, err)
			continue
		}
		for _, name := range found {
			read, errs := reader.ReadPath(name)
			order = append(order, filepath.ToSlash(name))
			files = append(files, read...)
			fileErrs[filepath.ToSlash(name)] = errs
		}
	}
	if len(setup) > 0 {
		for _, err := range setup {
			fmt.Fprintln(e.stderr, "http-connector test:", err)
		}
		return exitFailure
	}
	if len(order) == 0 {
		fmt.Fprintf(e.stderr, "http-connector test: no mapping files in %s\n", strings.Join(paths, ", "))
		return exitFailure
	}
	// Names must be unique across the files tested together, as they must
	// across the files of a connector.
	_, dups := mappings.NewLibrary(files...)
	for _, err := range dups {
		var me *mappings.Error
		if errors.As(err, &me) {
			fileErrs[me.File] = append(fileErrs[me.File], err)
		}
	}

	byPath := map[string]*mappings.File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	var passed, failed, broken int
	for _, name := range order {
		fmt.Fprintln(e.stdout, name)
		if errs := fileErrs[name]; len(errs) > 0 {
			broken++
			for _, err := range errs {
				fmt.Fprintln(e.stdout, indent(err.Error(), "  "))
			}
		}
		f := byPath[name]
		if f == nil {
			continue
		}
		cases := 0
		for _, m := range f.Mappings {
			for _, tc := range m.Tests {
				label := m.Name + ": " + tc.Name
				if filter != nil && !filter.MatchString(label) {
					continue
				}
				cases++
				res := m.RunTest(ctx, tc)
				if res.Passed() {
					passed++
					fmt.Fprintf(e.stdout, "  ok    %s\n", label)
					continue
				}
				failed++
				fmt.Fprintf(e.stdout, "  FAIL  %s (line %d)\n", label, tc.Line)
				fmt.Fprintln(e.stdout, indent(res.Failure, "        "))
				if res.Diff != "" {
					fmt.Fprintln(e.stdout, indent(res.Diff, "        "))
				}
			}
		}
		if cases == 0 && filter == nil && len(fileErrs[name]) == 0 {
			fmt.Fprintln(e.stdout, "  (no test cases)")
		}
	}
	summary(e.stdout, passed, failed, broken)
	if failed > 0 || broken > 0 {
		return exitFailure
	}
	return exitOK
}

func summary(w io.Writer, passed, failed, broken int) {
	s := fmt.Sprintf("\n%d passed, %d failed", passed, failed)
	if broken > 0 {
		s += fmt.Sprintf(", %d %s with problems", broken, plural(broken, "file", "files"))
	}
	fmt.Fprintln(w, s)
}

// mappingFiles is p when it is a file, or the mapping files found below
// the folder p, in name order.
func mappingFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	found, err := mappings.Find(os.DirFS(p), ".")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = filepath.Join(p, filepath.FromSlash(f))
	}
	return out, nil
}

// parseWithPaths parses flags placed before, between or after positional
// arguments, which it returns.
func parseWithPaths(fs *flag.FlagSet, args []string, e *env) (paths []string, code int, done bool) {
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fs.SetOutput(e.stdout)
			fs.Usage()
			return nil, exitOK, true
		case err != nil:
			return nil, exitUsage, true
		}
		if fs.NArg() == 0 {
			return paths, 0, false
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func indent(text, prefix string) string {
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}
