package main

import (
	"os"
	"strings"
	"testing"
)

// The image's final stage is empty apart from the binary, runs as a
// non-root user, exposes both listeners and checks itself without a shell.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := strings.Split(string(data), "\nFROM ")
	final := stages[len(stages)-1]
	for _, want := range []string{
		"scratch\n",
		"USER 65532:65532",
		"EXPOSE 8080 9090",
		`HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD ["/peekroute", "healthcheck"]`,
		`ENTRYPOINT ["/peekroute"]`,
	} {
		if !strings.Contains(final, want) {
			t.Errorf("final stage lacks %q", want)
		}
	}
	if !strings.Contains(string(data), "CGO_ENABLED=0 go build") {
		t.Error("the binary is not built static")
	}
	if len(stages) < 2 {
		t.Error("not a multi-stage build")
	}
}
