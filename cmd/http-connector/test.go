package main

import (
	"context"
	"flag"
	"fmt"
	"regexp"

	"github.com/http-connector/http-connector/internal/mappingtest"
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
			return usageError(e, "test", "-run: "+err.Error())
		}
		filter = re
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	ok, err := mappingtest.Run(ctx, paths, filter, e.stdout)
	switch {
	case err != nil:
		fmt.Fprintln(e.stderr, "http-connector test:", err)
		return exitFailure
	case !ok:
		return exitFailure
	}
	return exitOK
}

// parseWithPaths parses flags placed before, between or after positional
// arguments, which it returns.
func parseWithPaths(fs *flag.FlagSet, args []string, e *env) (paths []string, code int, done bool) {
	for {
		if code, done := parseFlags(fs, args, e); done {
			return nil, code, true
		}
		if fs.NArg() == 0 {
			return paths, 0, false
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
