package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// discoverBinaries returns the names of the directories directly under cmdDir
// that hold a main package; cmd/internal and the like are skipped.
func discoverBinaries(cmdDir string) ([]string, error) {
	entries, err := os.ReadDir(cmdDir)
	if err != nil {
		return nil, err
	}
	var bins []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "internal" || e.Name() == "testdata" {
			continue
		}
		isMain, err := holdsMainPackage(filepath.Join(cmdDir, e.Name()))
		if err != nil {
			return nil, err
		}
		if isMain {
			bins = append(bins, e.Name())
		}
	}
	sort.Strings(bins)
	return bins, nil
}

func holdsMainPackage(dir string) (bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return false, err
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err != nil {
			return false, err
		}
		if file.Name.Name == "main" {
			return true, nil
		}
	}
	return false, nil
}
