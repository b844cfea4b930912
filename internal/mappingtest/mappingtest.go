// Package mappingtest runs the test cases of mapping files, as
// `http-connector test` does: it finds the mapping files of the paths it is
// given, reads them, runs each mapping's cases and writes pass or fail for
// each, with a diff of the JSON on failure.
package mappingtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/http-connector/http-connector/internal/mappingfile"
)

// Run runs the cases of the mapping files of paths (files, or folders
// searched for them) whose "namespace/name: case" matches filter (nil: all)
// and writes the results to w. It returns false when a case failed or a
// file has problems, and an error when a path cannot be read or holds no
// mapping file.
func Run(ctx context.Context, paths []string, filter *regexp.Regexp, w io.Writer) (bool, error) {
	reader, err := mappingfile.NewReader()
	if err != nil {
		return false, err
	}
	var files []*mappingfile.File
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
		return false, errors.Join(setup...)
	}
	if len(order) == 0 {
		return false, fmt.Errorf("no mapping files in %s", strings.Join(paths, ", "))
	}
	// Names must be unique across the files tested together, as they must
	// across the files of a connector.
	_, dups := mappingfile.NewLibrary(files...)
	for _, err := range dups {
		var me *mappingfile.Error
		if errors.As(err, &me) {
			fileErrs[me.File] = append(fileErrs[me.File], err)
		}
	}

	byPath := map[string]*mappingfile.File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	var passed, failed, broken int
	for _, name := range order {
		fmt.Fprintln(w, name)
		if errs := fileErrs[name]; len(errs) > 0 {
			broken++
			for _, err := range errs {
				fmt.Fprintln(w, indent(err.Error(), "  "))
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
					fmt.Fprintf(w, "  ok    %s\n", label)
					continue
				}
				failed++
				fmt.Fprintf(w, "  FAIL  %s (line %d)\n", label, tc.Line)
				fmt.Fprintln(w, indent(res.Failure, "        "))
				if res.Diff != "" {
					fmt.Fprintln(w, indent(res.Diff, "        "))
				}
			}
		}
		if cases == 0 && filter == nil && len(fileErrs[name]) == 0 {
			fmt.Fprintln(w, "  (no test cases)")
		}
	}
	summary(w, passed, failed, broken)
	return failed == 0 && broken == 0, nil
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
	found, err := mappingfile.Find(os.DirFS(p), ".")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = filepath.Join(p, filepath.FromSlash(f))
	}
	return out, nil
}

func indent(text, prefix string) string {
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
