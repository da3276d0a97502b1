package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileBuildLine builds fluxgate with the go build line of the
// Dockerfile, in its environment, so a broken line fails here: no Docker
// engine runs where the tests do.
func TestDockerfileBuildLine(t *testing.T) {
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(df)
	run := regexp.MustCompile(`(?m)^RUN (go build .*)$`).FindStringSubmatch(text)
	if run == nil {
		t.Fatal("the Dockerfile has no `RUN go build` line")
	}
	env := regexp.MustCompile(`(?m)^ENV (.*)$`).FindStringSubmatch(text)
	if env == nil || !strings.Contains(env[1], "CGO_ENABLED=0") {
		t.Fatalf("the build stage must set CGO_ENABLED=0: %v", env)
	}
	for _, want := range []string{"-trimpath", "-X main.version=${VERSION}"} {
		if !strings.Contains(run[1], want) {
			t.Errorf("build line lacks %s: %s", want, run[1])
		}
	}
	if !strings.Contains(text, "FROM gcr.io/distroless/static:nonroot") || !strings.Contains(text, "USER 65532:65532") {
		t.Error("the final stage must be distroless static and run as a non-root user")
	}
	out := filepath.Join(t.TempDir(), "out")
	line := strings.ReplaceAll(run[1], "/out/fluxgate", filepath.Join(out, "fluxgate"))
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), strings.Fields(env[1])...)
	cmd.Env = append(cmd.Env, "VERSION=v9.9.9-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}
	ver, err := exec.Command(filepath.Join(out, "fluxgate"), "version").Output()
	if err != nil || strings.TrimSpace(string(ver)) != "v9.9.9-test" {
		t.Fatalf("fluxgate version = %q (%v), want the stamped v9.9.9-test", ver, err)
	}
	static, _ := exec.Command("file", filepath.Join(out, "fluxgate")).Output()
	if len(static) > 0 && !strings.Contains(string(static), "statically linked") {
		t.Errorf("binary is not static: %s", static)
	}
}
