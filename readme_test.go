package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/config"
)

// TestReadmeDocumentsEveryVariable keeps the README's configuration table in
// step with config.Variables, defaults included.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Variables {
		def := "unset"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		row := "| `" + v.Name + "` | " + def + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README has no row starting %q", row)
		}
	}
}

// TestCIRunsTheReadmeTestCommand: CI must run exactly what the README tells a
// newcomer to run.
func TestCIRunsTheReadmeTestCommand(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("Run the tests:\\s*```sh\\n([^\\n]+)\\n```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no 'Run the tests:' command block")
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "\n"+string(m[1])+"\n") {
		t.Errorf(".ci/run does not run the README's test command %q", m[1])
	}
}
