package packaging

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var binaryStage = regexp.MustCompile(`^FROM\s+image\s+AS\s+(\S+)`)

// TestDockerfileHasStageForEveryBinary keeps the Dockerfile in step with
// cmd/: every main package needs a stage `FROM image AS <binary>` with
// ENTRYPOINT ["/<binary>"], as hack/images gives its image, or is copied
// into another stage's image (a companion, as the CNI plugin in ztunnel's).
func TestDockerfileHasStageForEveryBinary(t *testing.T) {
	root := repoRoot(t)
	dockerfile := readFile(t, filepath.Join(root, "Dockerfile"))
	stages := map[string]string{} // stage -> its ENTRYPOINT line
	var current string
	for _, line := range strings.Split(dockerfile, "\n") {
		if m := binaryStage.FindStringSubmatch(line); m != nil {
			current = m[1]
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			current = ""
		}
		if current != "" && strings.HasPrefix(line, "ENTRYPOINT ") {
			stages[current] = strings.TrimSpace(strings.TrimPrefix(line, "ENTRYPOINT "))
		}
	}
	bins := mainPackages(t, filepath.Join(root, "cmd"))
	if len(bins) == 0 {
		t.Fatal("no main packages under cmd/")
	}
	for _, b := range bins {
		if _, own := stages[b]; !own && strings.Contains(dockerfile, "COPY --from=build /out/"+b+" /"+b+"\n") {
			continue
		}
		want := `["/` + b + `"]`
		if got, ok := stages[b]; !ok || got != want {
			t.Errorf("Dockerfile: want a stage `FROM image AS %s` with ENTRYPOINT %s, got %q", b, want, got)
		}
	}
}

// mainPackages lists the directories under cmdDir that hold a main package.
func mainPackages(t *testing.T, cmdDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(cmdDir)
	if err != nil {
		t.Fatal(err)
	}
	var bins []string
	for _, e := range entries {
		files, _ := filepath.Glob(filepath.Join(cmdDir, e.Name(), "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
			if err != nil {
				t.Fatal(err)
			}
			if file.Name.Name == "main" {
				bins = append(bins, e.Name())
				break
			}
		}
	}
	return bins
}
