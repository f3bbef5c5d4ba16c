package compat

import (
	"os"
	"strings"
	"testing"
)

// docsStatuses reads the status column of docs/compat.md: function name →
// status, for the preview1 table and the wasix_32v1 table. Rows about the
// 2022 forms and wasi-threads are left out (their names repeat current ones).
func docsStatuses(t *testing.T) (p1, wasix map[string]Status) {
	b, err := os.ReadFile("../docs/compat.md")
	if err != nil {
		t.Fatal(err)
	}
	p1, wasix = map[string]Status{}, map[string]Status{}
	var cur map[string]Status
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "## wasi_snapshot_preview1"):
			cur = p1
		case strings.HasPrefix(line, "## wasix_32v1"):
			cur = wasix
		case strings.HasPrefix(line, "## "):
			cur = nil
		}
		if cur == nil || !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !isStatus(cells[2]) {
			continue
		}
		names := cells[1]
		if strings.Contains(names, "(") || strings.Contains(names, ".") {
			continue
		}
		for _, n := range strings.Split(names, ",") {
			cur[strings.TrimSpace(n)] = Status(strings.TrimSpace(cells[2]))
		}
	}
	return p1, wasix
}

// TestDocsMatchStatus: every function has a row in docs/compat.md, and the
// row's status is the one StatusOf gives (what inspect shows).
func TestDocsMatchStatus(t *testing.T) {
	p1, wasix := docsStatuses(t)
	for _, f := range Preview1() {
		got, ok := p1[f.Name]
		if !ok {
			t.Errorf("docs/compat.md has no preview1 row for %s", f.Name)
			continue
		}
		if want, _ := StatusOf(f, false); got != want {
			t.Errorf("docs: preview1 %s is %q, the table says %q", f.Name, got, want)
		}
	}
	for _, f := range WASIX()[len(Preview1()):] {
		got, ok := wasix[f.Name]
		if !ok {
			t.Errorf("docs/compat.md has no wasix_32v1 row for %s", f.Name)
			continue
		}
		if want, _ := StatusOf(f, true); got != want {
			t.Errorf("docs: wasix_32v1 %s is %q, the table says %q", f.Name, got, want)
		}
	}
}

func TestStatusOf(t *testing.T) {
	find := func(module, name string) Func {
		fs := Lookup(module, name)
		if len(fs) == 0 {
			t.Fatalf("%s.%s unknown", module, name)
		}
		return fs[0]
	}
	tests := []struct {
		f     Func
		wasix bool
		want  Status
	}{
		{find(ModulePreview1, "fd_write"), false, StatusDone},
		{find(ModulePreview1, "proc_raise"), false, StatusENOSYS},
		{find(ModulePreview1, "proc_raise"), true, StatusDone},
		{find(ModuleUnstable, "proc_raise"), false, StatusENOSYS},
		{find(ModulePreview1, "fd_allocate"), false, StatusPartial},
		{find(ModuleWASIX32, "context_create"), true, StatusENOSYS},
		{find(ModuleWASIX32, "proc_spawn"), true, StatusENOSYS},
		{find(ModuleWASIX32, "proc_fork"), true, StatusDone},
		{find(ModuleWASIX32, "port_mac"), true, StatusENOTSUP},
		{find(ModuleWASIX32, "sock_send_msg"), true, StatusDone},
		{WASIX2022()[len(WASIX2022())-1], true, StatusDone}, // proc_join (2022): ECHILD, as it should
		{ThreadSpawn, true, StatusDone},
	}
	for _, tt := range tests {
		if got, _ := StatusOf(tt.f, tt.wasix); got != tt.want {
			t.Errorf("StatusOf(%s.%s %s, wasix=%v) = %q, want %q", tt.f.Module, tt.f.Name, tt.f.Signature(), tt.wasix, got, tt.want)
		}
	}
	if s := StatusENOSYS; s.Errno() != 52 || s.Implemented() {
		t.Error("ENOSYS status")
	}
}
